// matmul_quant on weights that only GGUF files bring (Q4_1, Q4_K, Q5_K, Q6_K), made of random
// valid GGUF blocks (gguf cannot quantize the K-quants): against float64 of dequantize_blocks'
// weights, across every kernel, row counts and panel splits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quant_matmul.h"
#include "tests/unit/quant_matmul_test_support.h"
#include "tests/unit/quant_random_blocks.h"

namespace llm::cpu {
namespace {

using test::kernels;
using test::normal_floats;
using test::random_rows;
using test::run_kernel;

struct KPacked {
  std::vector<unsigned char> gguf;   // [n][k / 256 blocks]
  std::vector<unsigned char> bytes;  // quant_packed_bytes
  QuantPackedWeight w;
};

KPacked make_weight(DType type, int64_t n, int64_t k, uint64_t seed) {
  KPacked p;
  p.gguf = random_rows(type, n, k, seed);
  p.bytes.assign(quant_packed_bytes(n, k, type), 0xaa);
  const int64_t panels = (n + kPanel - 1) / kPanel;
  // Two disjoint ranges, as two threads would pack them.
  pack_quant_weight_blocks(p.gguf.data(), n, k, type, p.bytes.data(), panels / 2, panels);
  pack_quant_weight_blocks(p.gguf.data(), n, k, type, p.bytes.data(), 0, panels / 2);
  p.w = QuantPackedWeight{p.bytes.data(), type, n, k};
  return p;
}

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

class KQuantMatmul : public ::testing::TestWithParam<Case> {};

// Every element reads back as dequantize_blocks gives it (bit for bit), and the packed bytes are
// close to GGUF's.
TEST_P(KQuantMatmul, PackedWeightHoldsEveryElement) {
  const Case c = GetParam();
  const KPacked p = make_weight(c.type, c.N, c.K, 3 + c.K);
  std::vector<float> deq(static_cast<size_t>(c.N * c.K));  // [N][K]
  dequantize_blocks(c.type, p.gguf.data(), c.N * c.K, deq.data());
  for (int64_t r = 0; r < c.N; ++r) {
    for (int64_t col = 0; col < c.K; ++col) {
      const float want = deq[static_cast<size_t>(r * c.K + col)];
      const float got = quant_weight_at(p.w, r, col);
      ASSERT_EQ(0, std::memcmp(&want, &got, sizeof got)) << r << "," << col << " " << want;
    }
  }
  const double gguf = static_cast<double>(dtype_block_bytes(c.type)) /
                      static_cast<double>(dtype_block_elems(c.type));
  const double ours = static_cast<double>(quant_packed_bytes(16, c.K, c.type)) / (16.0 * c.K);
  EXPECT_LT(ours, gguf + 0.04) << "bytes per weight, GGUF's " << gguf;
}

// Against float64 of the dequantized weights times the dequantized activations. The kernel adds,
// per block, the exact integer sums times f32 scales (two terms per block, each scale rounded
// once and each fma once), so |error| <= (2 kb + 1) 2^-24 sum |term|; the terms are bounded by
// sum_k (|w_k| + 2 |m|) |a_k| d_a, m the block's min (Q4_K/Q5_K: |m| <= 63 |dmin|). The
// dequantization of Q4_1, Q4_K and Q5_K rounds s q + m once more, which this bound covers too.
TEST_P(KQuantMatmul, MatchesFloat64) {
  const Case c = GetParam();
  const int64_t ldx = c.K + 5, ldo = c.N + 3;
  const std::vector<float> x = normal_floats(static_cast<size_t>(c.T * ldx), 1 + c.T);
  const KPacked p = make_weight(c.type, c.N, c.K, 100 + c.K);
  const int64_t elems = dtype_block_elems(c.type);
  std::vector<float> deq(static_cast<size_t>(c.N * c.K));  // [N][K]
  dequantize_blocks(c.type, p.gguf.data(), c.N * c.K, deq.data());
  QuantizedActivations xq;
  quantize_activations(x.data(), ldx, c.T, c.K, xq);
  std::vector<float> out(static_cast<size_t>(c.T * ldo), NAN);  // [T][ldo]
  matmul_quant(xq, p.w, 0, p.w.num_panels(), out.data(), ldo);
  const int64_t kb = xq.blocks;
  const size_t row_bytes = dtype_row_bytes(c.type, c.K);
  for (int64_t t = 0; t < c.T; ++t) {
    for (int64_t n = 0; n < c.N; ++n) {
      double ref = 0, magnitude = 0;
      for (int64_t b = 0; b < kb; ++b) {
        // The block's min: Q4_1's m, at most 63 dmin for Q4_K/Q5_K.
        double mbound = 0;
        if (c.type != DType::kQ6_K) {
          uint16_t m;
          std::memcpy(&m, &p.gguf[n * row_bytes + b * 32 / elems * dtype_block_bytes(c.type) + 2],
                      2);
          mbound = (c.type == DType::kQ4_1 ? 1.0 : 63.0) * std::fabs(f16_to_f32(m));
        }
        const double da = xq.d[static_cast<size_t>(t * kb + b)];
        for (int64_t k = b * 32; k < (b + 1) * 32; ++k) {
          const double w = deq[static_cast<size_t>(n * c.K + k)];
          const double xa = xq.q[static_cast<size_t>(t * kb * 32 + k)] * da;
          ref += w * xa;
          magnitude += (std::fabs(w) + 2 * mbound) * std::fabs(xa);
        }
      }
      const double tol = static_cast<double>(2 * kb + 1) * 0x1p-24 * magnitude;
      ASSERT_NEAR(out[static_cast<size_t>(t * ldo + n)], ref, tol)
          << case_name(c) << " t=" << t << " n=" << n;
    }
    for (int64_t n = c.N; n < ldo; ++n)
      ASSERT_TRUE(std::isnan(out[static_cast<size_t>(t * ldo + n)]));
  }
}

// Every kernel gives the portable kernel's bits; any split of the panels gives the same bits; a
// row alone gives its bits in the batch.
TEST_P(KQuantMatmul, KernelsRowsAndSplitsAgreeBitForBit) {
  const Case c = GetParam();
  const int64_t ldo = c.N;
  const std::vector<float> x = normal_floats(static_cast<size_t>(c.T * c.K), 7 + c.T);
  const KPacked p = make_weight(c.type, c.N, c.K, 9);
  const int64_t panels = p.w.num_panels();
  QuantizedActivations xq;
  quantize_activations(x.data(), c.K, c.T, c.K, xq);
  std::vector<float> want(static_cast<size_t>(c.T * ldo));  // [T][N]
  run_kernel(detail::matmul_quant_portable, xq, p.w, 0, panels, want.data(), ldo);
  for (const float v : want) ASSERT_TRUE(std::isfinite(v));

  for (const auto& [name, kernel] : kernels()) {
    std::vector<float> got(want.size(), NAN);  // [T][N]
    run_kernel(kernel, xq, p.w, 0, panels, got.data(), ldo);
    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
        << name << " " << case_name(c);
    for (int64_t split = 1; split < panels; split += (panels > 8 ? 3 : 1)) {
      std::fill(got.begin(), got.end(), NAN);
      run_kernel(kernel, xq, p.w, split, panels, got.data(), ldo);
      run_kernel(kernel, xq, p.w, 0, split, got.data(), ldo);
      ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
          << name << " split at panel " << split << " " << case_name(c);
    }
  }

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
  for (const DType type : {DType::kQ4_1, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    for (const int64_t T : {1, 3, 16, 37}) {
      for (const int64_t K : {256, 768}) v.push_back({type, T, K, 100});
    }
    // Every tile shape: 1 to 5 rows, 1 to 4 panels, a ragged last panel.
    for (const int64_t T : {2, 4, 5, 7}) v.push_back({type, T, 512, 16 * 9 + 5});
    v.push_back({type, 1, 4096, 33});
  }
  v.push_back({DType::kQ4_1, 3, 96, 37});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Shapes, KQuantMatmul, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string s = case_name(info.param);
  for (char& ch : s) {
    if (ch == ' ' || ch == '=') ch = '_';
  }
  return s;
});

TEST(KQuantMatmul, RowsMustBeWholeSuperBlocks) {
  const std::vector<unsigned char> rows(dtype_row_bytes(DType::kQ4_K, 512));
  std::vector<unsigned char> dst(quant_packed_bytes(1, 512, DType::kQ4_K));
  EXPECT_THROW(pack_quant_weight_blocks(rows.data(), 1, 288, DType::kQ4_K, dst.data(), 0, 1),
               std::invalid_argument);
  EXPECT_THROW(quant_packed_bytes(16, 96, DType::kQ5_K), std::invalid_argument);
}

}  // namespace
}  // namespace llm::cpu
