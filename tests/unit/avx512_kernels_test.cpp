// The AVX-512 matmul kernels, run twice: as SIMDe emulation (on every x86-64, so CI checks them
// whatever its CPU) and as instructions where this processor has them, compared with each other,
// with the AVX2/portable kernels and with float64.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/packed_matmul.h"
#include "kernels/cpu/packed_matmul_kernels.h"

namespace llm::cpu {
namespace {

struct Shape {
  int64_t T, K, N;
};

// Row counts and panel counts that reach every tiling: 1 row x 8/4/2/1 panels, 2 x 4, tiles of 8
// rows, 9 to 15 leftover rows split in two, ragged last panels, odd K (a padded last pair).
const Shape kShapes[] = {{1, 64, 128}, {1, 33, 100}, {2, 40, 70},  {3, 17, 33},  {5, 128, 16},
                         {8, 31, 48},  {9, 64, 90},  {13, 20, 65}, {16, 9, 130}, {32, 45, 100},
                         {1, 7, 3},    {2, 1, 17},   {11, 300, 64}};

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_bf16(v[i]);
  return h;
}

// A packed weight with its storage.
struct Packed {
  std::vector<uint8_t> bytes;
  PackedWeight w;
};

Packed pack(const void* src, int64_t n, int64_t k, WeightType type, PackedLayout layout) {
  Packed p;
  p.bytes.resize(packed_weight_bytes(n, k, type, layout));
  pack_weight(src, n, k, type, p.bytes.data(), layout);
  p.w = PackedWeight{p.bytes.data(), type, n, k, layout};
  return p;
}

using PairKernel = void (*)(const uint32_t*, int64_t, int64_t, const PackedWeight&, int64_t,
                            int64_t, float*, int64_t);
using F32Kernel = void (*)(const float*, int64_t, int64_t, const PackedWeight&, int64_t, int64_t,
                           float*, int64_t);

// The pair kernels to check here: the emulated one always, the native one where it can run.
std::vector<std::pair<std::string, PairKernel>> pair_kernels() {
  std::vector<std::pair<std::string, PairKernel>> k = {
      {"simde", detail::avx512_simde::matmul_bf16_pairs}};
  if (cpu_features().avx512_bf16)
    k.emplace_back("native", detail::avx512_native::matmul_bf16_pairs);
  return k;
}

std::vector<std::pair<std::string, F32Kernel>> f32_kernels() {
  std::vector<std::pair<std::string, F32Kernel>> k = {{"simde", detail::avx512_simde::matmul_f32}};
  if (cpu_features().avx512) k.emplace_back("native", detail::avx512_native::matmul_f32);
  return k;
}

TEST(Avx512Matmul, PairLayoutKeepsEveryElementInPlace) {
  const int64_t n = 37, k = 11;  // a ragged panel and an odd K
  const auto w = to_bf16(random_floats(static_cast<size_t>(n * k), 1));
  const Packed p = pack(w.data(), n, k, WeightType::kBF16, PackedLayout::kBf16Pairs);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c)
      ASSERT_EQ(packed_weight_at(p.w, r, c), bf16_to_f32(w[static_cast<size_t>(r * k + c)]));
  }
  EXPECT_THROW(pack_weight(w.data(), n, k, WeightType::kF16, nullptr, PackedLayout::kBf16Pairs),
               std::invalid_argument);
}

TEST(Avx512Matmul, ActivationPairsAreRoundedToBf16AndZeroPadded) {
  const float x[] = {1.0f, -2.5f, 3.14159f, 1e-3f, 7.0f};
  uint32_t xp[3] = {~0u, ~0u, ~0u};
  to_bf16_pairs(x, 5, 1, 5, xp);
  for (int j = 0; j < 5; ++j) {
    const uint16_t h = static_cast<uint16_t>(xp[j / 2] >> (16 * (j % 2)));
    EXPECT_EQ(h, f32_to_bf16(x[j])) << j;
  }
  EXPECT_EQ(xp[2] >> 16, 0u);
}

// The vector rounding is cpu::f32_to_bf16 on every lane: ties, NaN, infinities, odd K.
TEST(Avx512Matmul, VectorActivationRoundingMatchesTheScalarOne) {
  std::vector<float> x = random_floats(3 * 37, 5);
  const uint32_t specials[] = {0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0x7fc00001u, 0xff800001u,
                               0x7f800000u, 0x00000001u, 0x80000000u, 0x3f808001u};
  for (size_t i = 0; i < std::size(specials); ++i) std::memcpy(&x[i * 11], &specials[i], 4);
  for (const int64_t K : {int64_t{37}, int64_t{32}, int64_t{5}}) {
    const int64_t pairs = (K + 1) / 2;
    std::vector<uint32_t> want(static_cast<size_t>(3 * pairs), 0);
    for (int64_t t = 0; t < 3; ++t) {
      for (int64_t k = 0; k < K; ++k) {
        want[static_cast<size_t>(t * pairs + k / 2)] |=
            static_cast<uint32_t>(f32_to_bf16(x[static_cast<size_t>(t * 37 + k)])) << (16 * (k % 2));
      }
    }
    std::vector<uint32_t> emulated(want.size(), ~0u), native(want.size(), ~0u);
    detail::avx512_simde::to_bf16_pairs(x.data(), 37, 3, K, emulated.data());
    EXPECT_EQ(emulated, want) << "K=" << K;
    if (cpu_features().avx512) {
      detail::avx512_native::to_bf16_pairs(x.data(), 37, 3, K, native.data());
      EXPECT_EQ(native, want) << "K=" << K;
    }
  }
}

// The f32 kernel computes the same FMA chains as the AVX2 and portable ones: the same bits.
TEST(Avx512Matmul, F32KernelMatchesThePortableKernelBitForBit) {
  uint64_t seed = 100;
  for (const Shape& s : kShapes) {
    const auto w = random_floats(static_cast<size_t>(s.N * s.K), ++seed);
    const auto x = random_floats(static_cast<size_t>(s.T * s.K), ++seed);
    const Packed p = pack(w.data(), s.N, s.K, WeightType::kF32, PackedLayout::kKMajor);
    std::vector<float> want(static_cast<size_t>(s.T * s.N), NAN);
    detail::matmul_packed_portable(x.data(), s.K, s.T, p.w, 0, p.w.num_panels(), want.data(), s.N);
    for (const auto& [name, kernel] : f32_kernels()) {
      std::vector<float> got(want.size(), NAN);
      kernel(x.data(), s.K, s.T, p.w, 0, p.w.num_panels(), got.data(), s.N);
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_EQ(got[i], want[i])
            << name << " T=" << s.T << " K=" << s.K << " N=" << s.N << " " << i;
    }
  }
}

// The pair kernel against float64 of the same operands (activations rounded to bf16): the only
// error left is the f32 accumulation's, at most K roundings of the running sum.
TEST(Avx512Matmul, Bf16PairKernelMatchesFloat64OfTheRoundedOperands) {
  uint64_t seed = 200;
  for (const Shape& s : kShapes) {
    const auto w = to_bf16(random_floats(static_cast<size_t>(s.N * s.K), ++seed));
    const auto x = random_floats(static_cast<size_t>(s.T * s.K), ++seed);
    const Packed p = pack(w.data(), s.N, s.K, WeightType::kBF16, PackedLayout::kBf16Pairs);
    const int64_t pairs = (s.K + 1) / 2;
    std::vector<uint32_t> xp(static_cast<size_t>(s.T * pairs));
    to_bf16_pairs(x.data(), s.K, s.T, s.K, xp.data());
    for (const auto& [name, kernel] : pair_kernels()) {
      std::vector<float> got(static_cast<size_t>(s.T * s.N), NAN);
      kernel(xp.data(), pairs, s.T, p.w, 0, p.w.num_panels(), got.data(), s.N);
      for (int64_t t = 0; t < s.T; ++t) {
        for (int64_t n = 0; n < s.N; ++n) {
          double want = 0, magnitude = 0;
          for (int64_t k = 0; k < s.K; ++k) {
            const double term =
                static_cast<double>(bf16_to_f32(f32_to_bf16(x[static_cast<size_t>(t * s.K + k)]))) *
                bf16_to_f32(w[static_cast<size_t>(n * s.K + k)]);
            want += term;
            magnitude += std::fabs(term);
          }
          const double bound = static_cast<double>(s.K) * 0x1p-24 * magnitude * 1.01 + 1e-30;
          const float g = got[static_cast<size_t>(t * s.N + n)];
          ASSERT_LE(std::fabs(g - want), bound)
              << name << " T=" << s.T << " K=" << s.K << " N=" << s.N << " at " << t << "," << n;
        }
      }
    }
  }
}

// Batch invariance of the pair kernel: a row's output is the same bits alone, among T rows, or
// with the panels cut between two threads.
TEST(Avx512Matmul, Bf16PairKernelGivesEachRowTheSameBitsWhateverTheBatch) {
  const int64_t K = 45, N = 200;  // 12 full panels and a ragged one
  const auto w = to_bf16(random_floats(static_cast<size_t>(N * K), 11));
  const Packed p = pack(w.data(), N, K, WeightType::kBF16, PackedLayout::kBf16Pairs);
  const int64_t pairs = (K + 1) / 2;
  const auto x = random_floats(static_cast<size_t>(32 * K), 12);
  std::vector<uint32_t> xp(static_cast<size_t>(32 * pairs));
  to_bf16_pairs(x.data(), K, 32, K, xp.data());
  for (const auto& [name, kernel] : pair_kernels()) {
    for (const int64_t T : {2, 3, 7, 8, 9, 15, 16, 17, 32}) {
      std::vector<float> batch(static_cast<size_t>(T * N), NAN);
      kernel(xp.data(), pairs, T, p.w, 0, 5, batch.data(), N);
      kernel(xp.data(), pairs, T, p.w, 5, p.w.num_panels(), batch.data(), N);
      for (int64_t t = 0; t < T; ++t) {
        std::vector<float> alone(static_cast<size_t>(N), NAN);
        kernel(xp.data() + t * pairs, pairs, 1, p.w, 0, p.w.num_panels(), alone.data(), N);
        for (int64_t n = 0; n < N; ++n) {
          ASSERT_FALSE(std::isnan(alone[static_cast<size_t>(n)]));
          ASSERT_EQ(batch[static_cast<size_t>(t * N + n)], alone[static_cast<size_t>(n)])
              << name << " T=" << T << " row " << t << " column " << n;
        }
      }
    }
  }
}

// The instructions and their emulation agree bit for bit on ordinary values (the hardware also
// flushes subnormal inputs and outputs, which SIMDe does not: no subnormals here).
TEST(Avx512Matmul, NativeAndEmulatedKernelsAgreeBitForBit) {
  if (!cpu_features().avx512_bf16)
    GTEST_SKIP() << "this processor has no AVX-512 BF16: only the emulated kernels ran (above)";
  uint64_t seed = 300;
  for (const Shape& s : kShapes) {
    const auto wf = random_floats(static_cast<size_t>(s.N * s.K), ++seed);
    const auto w = to_bf16(wf);
    const auto x = random_floats(static_cast<size_t>(s.T * s.K), ++seed);
    const Packed p = pack(w.data(), s.N, s.K, WeightType::kBF16, PackedLayout::kBf16Pairs);
    const Packed pf = pack(wf.data(), s.N, s.K, WeightType::kF32, PackedLayout::kKMajor);
    const int64_t pairs = (s.K + 1) / 2;
    std::vector<uint32_t> xp(static_cast<size_t>(s.T * pairs));
    to_bf16_pairs(x.data(), s.K, s.T, s.K, xp.data());
    std::vector<float> a(static_cast<size_t>(s.T * s.N), NAN), b = a, c = a, d = a;
    detail::avx512_native::matmul_bf16_pairs(xp.data(), pairs, s.T, p.w, 0, p.w.num_panels(),
                                             a.data(), s.N);
    detail::avx512_simde::matmul_bf16_pairs(xp.data(), pairs, s.T, p.w, 0, p.w.num_panels(),
                                            b.data(), s.N);
    detail::avx512_native::matmul_f32(x.data(), s.K, s.T, pf.w, 0, pf.w.num_panels(), c.data(),
                                      s.N);
    detail::avx512_simde::matmul_f32(x.data(), s.K, s.T, pf.w, 0, pf.w.num_panels(), d.data(), s.N);
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i], b[i]) << "bf16 T=" << s.T << " K=" << s.K << " N=" << s.N << " at " << i;
      ASSERT_EQ(c[i], d[i]) << "f32 T=" << s.T << " K=" << s.K << " N=" << s.N << " at " << i;
    }
  }
}

TEST(CpuIsa, UnknownOrUnavailableInstructionSetsAreRefusedWithAMessage) {
  const CpuIsa before = cpu_isa();
  const auto unknown = set_cpu_isa("avx1024");
  ASSERT_TRUE(unknown.has_value());
  EXPECT_NE(unknown->find("unknown instruction set 'avx1024'"), std::string::npos) << *unknown;
  EXPECT_EQ(cpu_isa(), before);
  if (!cpu_features().avx512) {
    const auto missing = set_cpu_isa("avx512");
    ASSERT_TRUE(missing.has_value());
    EXPECT_NE(missing->find("supports up to"), std::string::npos) << *missing;
    EXPECT_EQ(cpu_isa(), before);
  }
  ASSERT_FALSE(set_cpu_isa("portable").has_value());
  EXPECT_EQ(cpu_isa(), CpuIsa::kPortable);
  EXPECT_EQ(preferred_layout(WeightType::kBF16), PackedLayout::kKMajor);
  ASSERT_FALSE(set_cpu_isa(cpu_isa_name(before)).has_value());
  EXPECT_EQ(cpu_isa(), before);
}

}  // namespace
}  // namespace llm::cpu
