// matmul_quant against float64, across its kernels (portable, AVX2, AVX-512 VNNI native and
// emulated by SIMDe), row counts and panel splits.
#include "kernels/cpu/quant_matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/quant_matmul_kernels.h"
#include "tests/unit/quant_matmul_test_support.h"

namespace llm::cpu {
namespace {

std::vector<float> normal_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

struct Packed {
  std::vector<unsigned char> bytes;
  QuantPackedWeight w;
};

Packed pack(const std::vector<float>& w, int64_t n, int64_t k, DType type) {
  Packed p;
  p.bytes.resize(quant_packed_bytes(n, k, type));
  pack_quant_weight_f32(w.data(), n, k, type, p.bytes.data(), 0, (n + kPanel - 1) / kPanel);
  p.w = QuantPackedWeight{p.bytes.data(), type, n, k};
  return p;
}

using test::kernels;
using test::run_kernel;

struct Case {
  DType type;
  int64_t T, K, N;
};

std::string case_name(const Case& c) {
  return std::string(dtype_name(c.type)) + " T=" + std::to_string(c.T) +
         " K=" + std::to_string(c.K) + " N=" + std::to_string(c.N);
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << case_name(c);
}

class QuantMatmul : public ::testing::TestWithParam<Case> {};

// Against float64 on the operands the kernel multiplies (dequantized weights and dequantized
// activations), where only the f32 rounding of the chain is left: each of the kb steps rounds the
// scale d_w * d_a and the fma once, so |error| <= 2 (kb + 1) 2^-24 sum_b |isum_b d_w d_a|. And
// against float64 on the original x, where the activations' rounding adds at most
// sum_b (d_a,b / 2) sum_k |w_k| (|x - q d_a| <= d_a / 2, plus the f32 error of x / d_a).
TEST_P(QuantMatmul, MatchesFloat64) {
  const Case c = GetParam();
  const int64_t ldx = c.K + 5, ldo = c.N + 3;
  const std::vector<float> x = normal_floats(static_cast<size_t>(c.T * ldx), 1 + c.T);
  const std::vector<float> wf = normal_floats(static_cast<size_t>(c.N * c.K), 100 + c.K);
  const Packed p = pack(wf, c.N, c.K, c.type);
  QuantizedActivations xq;
  quantize_activations(x.data(), ldx, c.T, c.K, xq);
  std::vector<float> out(static_cast<size_t>(c.T * ldo), NAN);  // [T][ldo]
  matmul_quant(xq, p.w, 0, p.w.num_panels(), out.data(), ldo);
  const int64_t kb = xq.blocks;
  for (int64_t t = 0; t < c.T; ++t) {
    for (int64_t n = 0; n < c.N; ++n) {
      double ref_q = 0, ref_x = 0, magnitude = 0, act_err = 0;
      for (int64_t b = 0; b < kb; ++b) {
        const double da = xq.d[static_cast<size_t>(t * kb + b)];
        double block = 0, wabs = 0;
        for (int64_t k = b * 32; k < std::min<int64_t>(c.K, (b + 1) * 32); ++k) {
          const double w = quant_weight_at(p.w, n, k);
          block += w * xq.q[static_cast<size_t>(t * kb * 32 + k)] * da;
          ref_x += w * x[static_cast<size_t>(t * ldx + k)];
          wabs += std::fabs(w);
        }
        ref_q += block;
        magnitude += std::fabs(block);
        act_err += (0.5 + 1e-5) * da * wabs;
      }
      const double tol_q = 2.0 * static_cast<double>(kb + 1) * 0x1p-24 * magnitude;
      const double got = out[static_cast<size_t>(t * ldo + n)];
      ASSERT_NEAR(got, ref_q, tol_q) << case_name(c) << " t=" << t << " n=" << n;
      ASSERT_NEAR(got, ref_x, tol_q + act_err) << case_name(c) << " t=" << t << " n=" << n;
    }
    for (int64_t n = c.N; n < ldo; ++n)
      ASSERT_TRUE(std::isnan(out[static_cast<size_t>(t * ldo + n)]));
  }
}

// Every kernel gives the portable kernel's bits; a row alone gives its bits in the batch; any
// split of the panels gives the same bits.
TEST_P(QuantMatmul, KernelsRowsAndSplitsAgreeBitForBit) {
  const Case c = GetParam();
  const int64_t ldo = c.N;
  const std::vector<float> x = normal_floats(static_cast<size_t>(c.T * c.K), 7 + c.T);
  const Packed p = pack(normal_floats(static_cast<size_t>(c.N * c.K), 9), c.N, c.K, c.type);
  const int64_t panels = p.w.num_panels();
  QuantizedActivations xq;
  quantize_activations(x.data(), c.K, c.T, c.K, xq);
  std::vector<float> want(static_cast<size_t>(c.T * ldo));  // [T][N]
  run_kernel(detail::matmul_quant_portable, xq, p.w, 0, panels, want.data(), ldo);

  for (const auto& [name, kernel] : kernels()) {
    std::vector<float> got(want.size(), NAN);  // [T][N]
    run_kernel(kernel, xq, p.w, 0, panels, got.data(), ldo);
    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
        << name << " " << case_name(c);
    // Panels split at every point (and one at a time), as threads split them.
    for (int64_t split = 1; split < panels; split += (panels > 8 ? 3 : 1)) {
      std::fill(got.begin(), got.end(), NAN);
      run_kernel(kernel, xq, p.w, split, panels, got.data(), ldo);
      run_kernel(kernel, xq, p.w, 0, split, got.data(), ldo);
      ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
          << name << " split at panel " << split << " " << case_name(c);
    }
  }

  // Each row alone, through the dispatching entry point.
  QuantizedActivations one;
  std::vector<float> row(static_cast<size_t>(c.N));  // [1][N]
  for (int64_t t = 0; t < c.T; ++t) {
    quantize_activations(x.data() + t * c.K, c.K, 1, c.K, one);
    matmul_quant(one, p.w, 0, panels, row.data(), c.N);
    ASSERT_EQ(0, std::memcmp(row.data(), want.data() + t * ldo, row.size() * sizeof(float)))
        << "row " << t << " alone, " << case_name(c);
  }
}

std::vector<Case> cases() {
  std::vector<Case> v;
  for (const DType type : {DType::kQ8_0, DType::kQ4_0}) {
    for (const int64_t T : {1, 3, 16, 37}) {
      for (const int64_t K : {32, 96, 4128}) v.push_back({type, T, K, 100});
    }
    // Every tile shape: 1 to 5 rows, 1 to 4 panels, a ragged last panel, K not whole blocks.
    for (const int64_t T : {2, 4, 5, 7}) v.push_back({type, T, 160, 16 * 9 + 5});
    v.push_back({type, 2, 70, 33});
    v.push_back({type, 1, 1000, 7});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Shapes, QuantMatmul, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string s = case_name(info.param);
  for (char& ch : s) {
    if (ch == ' ' || ch == '=') ch = '_';
  }
  return s;
});

// The AVX2 activation quantizer gives the portable one's bytes: rounding ties (x * id = k + 0.5
// exactly), the float just below 0.5 (which rounds down, though 0.49999997 + 0.5 rounds up),
// zero blocks and a padded last block.
TEST(QuantActivations, Avx2MatchesPortable) {
  if (!cpu_features().avx2_fma) GTEST_SKIP() << "no AVX2";
  for (const int64_t K : {32, 100, 4096 + 7}) {
    std::vector<float> x = normal_floats(static_cast<size_t>(K), 5 + K);
    for (int64_t i = 0; i < 32; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i) - 15.5f;
    x[0] = 127.0f;  // d = 1: every other element of the first block is a tie
    if (K >= 64) {
      for (int64_t i = 32; i < 64; ++i) x[static_cast<size_t>(i)] = i % 2 ? 0.0f : -0.0f;
      x[40] = 127.0f;
      x[41] = std::nextafter(0.5f, 0.0f);
      x[42] = -std::nextafter(0.5f, 0.0f);
      x[43] = std::nextafter(1.5f, 2.0f);
    }
    const int64_t kb = (K + 31) / 32;
    std::vector<int8_t> q1(static_cast<size_t>(kb * 32), 1), q2(q1.size(), 2);  // [kb * 32]
    std::vector<float> d1(static_cast<size_t>(kb)), d2(d1.size());              // [kb]
    std::vector<int32_t> s1(d1.size()), s2(d1.size());                          // [kb]
    detail::quantize_row_q8_portable(x.data(), K, q1.data(), d1.data(), s1.data());
    detail::quantize_row_q8_avx2(x.data(), K, q2.data(), d2.data(), s2.data());
    EXPECT_EQ(q1, q2) << "K=" << K;
    EXPECT_EQ(0, std::memcmp(d1.data(), d2.data(), d1.size() * sizeof(float))) << "K=" << K;
    EXPECT_EQ(s1, s2) << "K=" << K;
    EXPECT_EQ(q1[1], -15);  // -14.5 rounds away from zero
    if (K >= 64) {
      EXPECT_EQ(q1[41], 0);
    }
  }
}

TEST(QuantMatmul, KernelNameFollowsTheIsa) {
  const std::string name = quant_matmul_kernel_name(DType::kQ4_0);
  if (cpu_isa() == CpuIsa::kAvx512 && cpu_features().avx512_vnni) {
    EXPECT_NE(name.find("vpdpbusd"), std::string::npos) << name;
  } else if (cpu_isa() == CpuIsa::kPortable) {
    EXPECT_NE(name.find("portable"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace llm::cpu
