// The CPU kernel layer below the backend: 16-bit conversions, the packed matmul's ISA variants,
// and the thread pool that splits every op.
#include "kernels/cpu/cpu_kernels.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/packed_matmul.h"
#include "kernels/cpu/packed_matmul_kernels.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/vector_math.h"

namespace llm::cpu {
namespace {

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

TEST(Conversions, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808000)), 0x3f80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f818000)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808001)), 0x3f81);  // above the tie
  EXPECT_EQ(f32_to_bf16(-2.5f), 0xc020);
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  EXPECT_EQ(f32_to_bf16(from_bits(0x7f7fffff)), 0x7f80);  // max float rounds to infinity
}

TEST(Conversions, F16RoundTripsEveryHalfAndRoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto v = static_cast<uint16_t>(h);
    const float f = f16_to_f32(v);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
    } else {
      ASSERT_EQ(f32_to_f16(f), v) << "half 0x" << std::hex << h;
    }
  }
  EXPECT_EQ(f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);     // tie below an even neighbour
  EXPECT_EQ(f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);     // tie above an odd one
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);               // past the largest half
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest subnormal: to even
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -24)), 0x0002);  // 1.5 units: to even (2)
}

// The vector exp against double-precision exp over the whole range where e^x is a normal float,
// and at the edges.
TEST(VectorMath, ExpIsWithinOneUnitInTheLastPlace) {
  double worst = 0;
  float at = 0;
  int64_t i = 0;
  for (float x = -87.3f; x < 88.72f; x = std::nextafter(x, 100.0f)) {
    if ((++i & 4095) != 0) continue;  // every 4096th float: half a million points
    float v[16];
    for (float& f : v) f = x;
    exp_lanes<16>(v);
    // Every width computes the same bits.
    float v4[4] = {x, x, x, x}, v8[8];
    for (float& f : v8) f = x;
    exp_lanes<4>(v4);
    exp_lanes<8>(v8);
    ASSERT_EQ(v4[0], v[0]) << x;
    ASSERT_EQ(v8[5], v[0]) << x;
    const double want = std::exp(static_cast<double>(x));
    const auto wf = static_cast<float>(want);
    const double ulp = std::nextafter(wf, INFINITY) - wf;
    const double err = std::fabs(v[3] - want) / ulp;
    if (err > worst) worst = err, at = x;
  }
  EXPECT_LE(worst, 1.0) << "at x = " << at;
  float edges[] = {-INFINITY, -100.0f, 0.0f, -0.0f, 88.73f, INFINITY, NAN, 1.0f, -1.0f, 0.5f};
  exp_inplace<8>(edges, 10);  // eight, then a tail of two
  EXPECT_EQ(edges[0], 0.0f);
  EXPECT_EQ(edges[1], 0.0f);
  EXPECT_EQ(edges[2], 1.0f);
  EXPECT_EQ(edges[3], 1.0f);
  EXPECT_EQ(edges[4], INFINITY);
  EXPECT_EQ(edges[5], INFINITY);
  EXPECT_TRUE(std::isnan(edges[6]));
  EXPECT_NEAR(edges[7], std::exp(1.0), 1e-6);
  EXPECT_NEAR(edges[8], std::exp(-1.0), 1e-7);
  EXPECT_NEAR(edges[9], std::exp(0.5), 1e-6);
}

struct PackedCase {
  int64_t T, K, N;
  WeightType type;
};

std::vector<uint8_t> make_weight(int64_t n, int64_t k, WeightType t, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<uint8_t> w(static_cast<size_t>(n * k) * weight_type_size(t));
  for (int64_t i = 0; i < n * k; ++i) {
    const float f = d(rng);
    if (t == WeightType::kF32) {
      std::memcpy(&w[static_cast<size_t>(i) * 4], &f, 4);
    } else {
      const uint16_t h = t == WeightType::kBF16 ? f32_to_bf16(f) : f32_to_f16(f);
      std::memcpy(&w[static_cast<size_t>(i) * 2], &h, 2);
    }
  }
  return w;
}

TEST(PackedMatmul, PackingKeepsEveryElementInPlace) {
  const int64_t n = 37, k = 11;
  const auto w = make_weight(n, k, WeightType::kBF16, 3);
  std::vector<uint8_t> packed(packed_weight_bytes(n, k, WeightType::kBF16));
  pack_weight(w.data(), n, k, WeightType::kBF16, packed.data());
  const PackedWeight pw{packed.data(), WeightType::kBF16, n, k};
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      uint16_t h;
      std::memcpy(&h, &w[static_cast<size_t>(r * k + c) * 2], 2);
      ASSERT_EQ(packed_weight_at(pw, r, c), bf16_to_f32(h)) << r << "," << c;
    }
  }
}

// Both ISA variants compute the same fused multiply-add chains, so they agree bit for bit: the
// portable kernels are the AVX2 ones' executable specification.
TEST(PackedMatmul, Avx2AndPortableKernelsAgreeBitForBit) {
  const CpuFeatures& f = cpu_features();
  if (!f.avx2_fma || !f.f16c)
    GTEST_SKIP() << "this processor has no AVX2/FMA/F16C: nothing to compare";
  // Row counts and panel counts reach every tiling: 1 row x 4 panels and 2 x 2 (decode), 6-row
  // tiles, 7 to 11 leftover rows split in two, and a ragged last panel after full ones.
  const PackedCase cases[] = {{1, 64, 16, WeightType::kF32},  {5, 33, 40, WeightType::kBF16},
                              {6, 128, 17, WeightType::kF16}, {13, 300, 64, WeightType::kBF16},
                              {2, 7, 3, WeightType::kF32},    {1, 40, 100, WeightType::kBF16},
                              {2, 19, 90, WeightType::kF16},  {1, 9, 70, WeightType::kF32},
                              {8, 24, 50, WeightType::kBF16}, {11, 17, 33, WeightType::kF32},
                              {9, 31, 65, WeightType::kF16},  {32, 20, 80, WeightType::kBF16}};
  uint64_t seed = 7;
  for (const PackedCase& c : cases) {
    const auto w = make_weight(c.N, c.K, c.type, ++seed);
    std::vector<uint8_t> packed(packed_weight_bytes(c.N, c.K, c.type));
    pack_weight(w.data(), c.N, c.K, c.type, packed.data());
    const PackedWeight pw{packed.data(), c.type, c.N, c.K};
    std::mt19937_64 rng(++seed);
    std::uniform_real_distribution<float> d(-1, 1);
    std::vector<float> x(static_cast<size_t>(c.T * c.K));
    for (float& v : x) v = d(rng);
    std::vector<float> a(static_cast<size_t>(c.T * c.N), NAN), b = a;
    detail::matmul_packed_avx2(x.data(), c.K, c.T, pw, 0, pw.num_panels(), a.data(), c.N);
    detail::matmul_packed_portable(x.data(), c.K, c.T, pw, 0, pw.num_panels(), b.data(), c.N);
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_FALSE(std::isnan(a[i])) << i;
      ASSERT_EQ(a[i], b[i]) << "T=" << c.T << " K=" << c.K << " N=" << c.N << " at " << i;
    }
  }
}

// Batch invariance at the kernel: a row's output is the same bits whether it is multiplied alone,
// among T rows, or with the panels cut between threads, whatever tiles the kernel picks.
TEST(PackedMatmul, EachRowIsTheSameBitsWhateverTheBatchAndPanelSplit) {
  const int64_t K = 45, N = 100;  // 6 full panels and a ragged one
  for (const WeightType type : {WeightType::kF32, WeightType::kBF16, WeightType::kF16}) {
    const auto w = make_weight(N, K, type, 11);
    std::vector<uint8_t> packed(packed_weight_bytes(N, K, type));
    pack_weight(w.data(), N, K, type, packed.data());
    const PackedWeight pw{packed.data(), type, N, K};
    std::mt19937_64 rng(12);
    std::uniform_real_distribution<float> d(-1, 1);
    std::vector<float> x(static_cast<size_t>(32 * K));
    for (float& v : x) v = d(rng);
    for (const int64_t T : {2, 3, 7, 8, 9, 11, 13, 32}) {
      std::vector<float> batch(static_cast<size_t>(T * N), NAN);
      // Panels [0, 3) and [3, 7) as two threads would take them.
      matmul_packed(x.data(), K, T, pw, 0, 3, batch.data(), N);
      matmul_packed(x.data(), K, T, pw, 3, pw.num_panels(), batch.data(), N);
      for (int64_t t = 0; t < T; ++t) {
        std::vector<float> alone(static_cast<size_t>(N), NAN);
        matmul_packed(x.data() + t * K, K, 1, pw, 0, pw.num_panels(), alone.data(), N);
        for (int64_t n = 0; n < N; ++n) {
          ASSERT_FALSE(std::isnan(alone[static_cast<size_t>(n)]));
          ASSERT_EQ(batch[static_cast<size_t>(t * N + n)], alone[static_cast<size_t>(n)])
              << "T=" << T << " row " << t << " column " << n;
        }
      }
    }
  }
}

TEST(ThreadPool, EveryItemRunsExactlyOnceForAnySizeAndGrain) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 3, 7, 100, 1001}) {
      for (int64_t grain : {1, 5, 2000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<int> max_worker{0};
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e, int w) {
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
          int m = max_worker.load();
          while (w > m && !max_worker.compare_exchange_weak(m, w)) {
          }
        });
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n << "/" << grain;
        // Chunks never outnumber n / grain: small loops stay on the caller.
        EXPECT_LT(max_worker.load(), std::max<int64_t>(1, std::min<int64_t>(threads, n / grain)));
      }
    }
  }
}

TEST(ThreadPool, AnExceptionInAChunkReachesTheCallerAndThePoolGoesOn) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(10, 1,
                                 [](int64_t b, int64_t, int) {
                                   if (b > 0) throw std::runtime_error("chunk failed");
                                 }),
               std::runtime_error);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), 4950);
}

}  // namespace
}  // namespace llm::cpu
