#include "bench/machine_probe.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/packed_matmul.h"
#include "llm/error.h"

namespace llm::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Runs fn(thread_index) on `threads` threads at once; returns the wall time of the slowest.
template <class Fn>
double timed_parallel(int threads, Fn fn) {
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (int t = 1; t < threads; ++t) pool.emplace_back(fn, t);
  fn(0);
  for (auto& th : pool) th.join();
  return seconds_since(start);
}

// Reads n floats as eight streams, each a contiguous eighth of the range: the hardware
// prefetchers keep more lines in flight than for one stream (~10% more here), and the engine's
// decode matmul also reads several weight panels at once. Two accumulators per stream keep the
// adds off the critical path.
__attribute__((target("avx2,fma"))) float sum_avx2(const float* p, size_t n) {
  constexpr int kStreams = 8;
  const size_t per = n / kStreams / 16 * 16;
  __m256 a[kStreams][2];
#pragma GCC unroll 8
  for (int s = 0; s < kStreams; ++s) a[s][0] = a[s][1] = _mm256_setzero_ps();
  for (size_t i = 0; i < per; i += 16) {
#pragma GCC unroll 8
    for (int s = 0; s < kStreams; ++s) {
      a[s][0] = _mm256_add_ps(a[s][0], _mm256_load_ps(p + s * per + i));
      a[s][1] = _mm256_add_ps(a[s][1], _mm256_load_ps(p + s * per + i + 8));
    }
  }
  __m256 total = _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int s = 0; s < kStreams; ++s) total = _mm256_add_ps(total, _mm256_add_ps(a[s][0], a[s][1]));
  alignas(32) float out[8];
  _mm256_store_ps(out, total);
  float sum = 0;
  for (const float x : out) sum += x;
  return sum;
}

float sum_portable(const float* p, size_t n) {
  float s[8] = {};
  for (size_t i = 0; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) s[j] += p[i + j];
  }
  float total = 0;
  for (const float x : s) total += x;
  return total;
}

// C[6x16] += A[k][6] * B[k][16] repeated `reps` times over L1-resident packed tiles: the
// inner kernel of a well-blocked SGEMM (12 independent FMA chains hide the FMA latency).
__attribute__((target("avx2,fma"))) float tile_avx2(const float* a, const float* b, int k,
                                                    int reps) {
  // The accumulator loops are unrolled by pragma: without it GCC keeps c[] in memory and
  // stores all twelve every step, which caps this "peak" at a third of the FMA units' rate.
  __m256 c[12];
#pragma GCC unroll 12
  for (auto& x : c) x = _mm256_setzero_ps();
  for (int r = 0; r < reps; ++r) {
    for (int i = 0; i < k; ++i) {
      const __m256 b0 = _mm256_load_ps(b + i * 16), b1 = _mm256_load_ps(b + i * 16 + 8);
#pragma GCC unroll 6
      for (int row = 0; row < 6; ++row) {
        const __m256 x = _mm256_broadcast_ss(a + i * 6 + row);
        c[row * 2] = _mm256_fmadd_ps(x, b0, c[row * 2]);
        c[row * 2 + 1] = _mm256_fmadd_ps(x, b1, c[row * 2 + 1]);
      }
    }
  }
  __m256 s = c[0];
#pragma GCC unroll 12
  for (int j = 1; j < 12; ++j) s = _mm256_add_ps(s, c[j]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return out[0] + out[7];
}

// The same register tile with AVX-512 BF16 dot products: C[8x32] += A[k/2][8 pairs] *
// B[k/2][32 pairs], 16 chains of vdpbf16ps, each adding two k terms to 16 columns. The peak of
// the engine's bf16 kernel where the processor has the instruction (twice the FMA peak on Zen 4).
__attribute__((target("avx512f,avx512bf16"))) float tile_bf16(const float* a, const float* b,
                                                              int k, int reps) {
  __m512 c[16];
#pragma GCC unroll 16
  for (auto& x : c) x = _mm512_setzero_ps();
  for (int r = 0; r < reps; ++r) {
    for (int i = 0; i < k / 2; ++i) {
      // The bits of the f32 inputs serve as bf16 pairs: the probe times, it does not compute.
      __m512bh b0, b1;
      std::memcpy(&b0, b + i * 32, sizeof b0);
      std::memcpy(&b1, b + i * 32 + 16, sizeof b1);
#pragma GCC unroll 8
      for (int row = 0; row < 8; ++row) {
        uint32_t pair;
        std::memcpy(&pair, a + i * 8 + row, sizeof pair);
        const __m512i xi = _mm512_set1_epi32(static_cast<int>(pair));
        __m512bh x;
        std::memcpy(&x, &xi, sizeof x);
        c[row * 2] = _mm512_dpbf16_ps(c[row * 2], x, b0);
        c[row * 2 + 1] = _mm512_dpbf16_ps(c[row * 2 + 1], x, b1);
      }
    }
  }
  __m512 s = c[0];
#pragma GCC unroll 16
  for (int j = 1; j < 16; ++j) s = _mm512_add_ps(s, c[j]);
  alignas(64) float out[16];
  _mm512_store_ps(out, s);
  return out[0] + out[15];
}

float tile_portable(const float* a, const float* b, int k, int reps) {
  float c[6][16] = {};
  for (int r = 0; r < reps; ++r) {
    for (int i = 0; i < k; ++i) {
      for (int row = 0; row < 6; ++row) {
        for (int j = 0; j < 16; ++j) c[row][j] += a[i * 6 + row] * b[i * 16 + j];
      }
    }
  }
  return c[0][0] + c[5][15];
}

using Floats = LimitsProbe::Floats;

Floats aligned_floats(size_t n) {
  auto* p = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
  if (p == nullptr) {
    throw Error(ErrorCode::kResourceExhausted,
                "roofline probe: cannot allocate " + std::to_string(n * 4 >> 20) + " MiB");
  }
  return Floats(p);
}

volatile float g_sink;  // keeps the probes' results alive so the loops are not removed

double bandwidth(const float* buf, size_t n, int threads, bool avx2, int runs) {
  double best = 1e30;
  const size_t per =
      n / static_cast<size_t>(threads) / 128 * 128;  // whole 16-float steps of 8 streams
  for (int r = 0; r < runs; ++r) {
    std::vector<float> sums(static_cast<size_t>(threads));
    const double t = timed_parallel(threads, [&](int i) {
      const float* p = buf + per * static_cast<size_t>(i);
      sums[static_cast<size_t>(i)] = avx2 ? sum_avx2(p, per) : sum_portable(p, per);
    });
    for (const float s : sums) g_sink = g_sink + s;
    best = std::min(best, t);
  }
  return static_cast<double>(per * static_cast<size_t>(threads) * sizeof(float)) / best / 1e9;
}

// Best rate of `tile` (a register tile over kK-deep L1-resident operands, `flops_per_k` flops
// per k step, repeated `reps` times) on every thread at once, in GFLOP/s. The operands are kK * 8
// floats of A and kK * 16 of B, more than either tile reads.
template <class Tile>
double tile_peak(int threads, int runs, int reps, double flops_per_k, Tile tile) {
  constexpr int kK = 256;
  double best = 1e30;
  for (int r = 0; r < runs; ++r) {
    const double t = timed_parallel(threads, [&](int) {
      Floats a = aligned_floats(kK * 8), b = aligned_floats(kK * 16);
      for (int i = 0; i < kK * 8; ++i) a[i] = 1e-3f * static_cast<float>(i % 7);
      for (int i = 0; i < kK * 16; ++i) b[i] = 1e-3f * static_cast<float>(i % 5);
      g_sink = g_sink + tile(a.get(), b.get(), kK, reps);
    });
    best = std::min(best, t);
  }
  return flops_per_k * kK * reps * threads / best / 1e9;
}

double gemm(int threads, bool avx2, int runs) {
  const int reps = avx2 ? 50000 : 2000;  // ~0.1 s per thread: far above thread start-up
  return tile_peak(threads, runs, reps, 2.0 * 6 * 16, avx2 ? &tile_avx2 : &tile_portable);
}

// Peak of the bf16 dot-product tile: per k, 8 rows x 32 columns of multiply-adds.
double gemm_bf16(int threads, int runs) {
  return tile_peak(threads, runs, 50000, 2.0 * 8 * 32, tile_bf16);
}

// The engine's own packed kernel on one thread with bf16 weights: how close it gets to the
// register-tile peak above.
double kernel_matmul(int runs) {
  constexpr int64_t T = 64, K = 1024, N = 1024;
  std::vector<float> x(T * K, 0.01f), out(T * N);
  std::vector<uint16_t> w(N * K, cpu::f32_to_bf16(0.02f));
  const cpu::PackedLayout layout = cpu::preferred_layout(cpu::WeightType::kBF16);
  std::vector<uint8_t> packed(cpu::packed_weight_bytes(N, K, cpu::WeightType::kBF16, layout));
  cpu::pack_weight(w.data(), N, K, cpu::WeightType::kBF16, packed.data(), layout);
  const cpu::PackedWeight pw{packed.data(), cpu::WeightType::kBF16, N, K, layout};
  double best = 1e30;
  for (int r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    cpu::matmul_packed(x.data(), K, T, pw, 0, pw.num_panels(), out.data(), N);
    best = std::min(best, seconds_since(start));
    g_sink = g_sink + out[0];
  }
  return 2.0 * T * K * N / best / 1e9;
}

}  // namespace

void LimitsProbe::AlignedFree::operator()(float* p) const {
  std::free(p);
}

LimitsProbe::LimitsProbe(int buffer_mib)
    : threads_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
      avx2_(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")),
      floats_(static_cast<size_t>(buffer_mib) << 18) {
  buffer_ = aligned_floats(floats_);
  // First touch from the threads that will read, so pages land near them.
  const size_t per = floats_ / static_cast<size_t>(threads_);
  timed_parallel(threads_, [&](int i) {
    std::fill_n(buffer_.get() + per * static_cast<size_t>(i), per, 1.0f);
  });
}

LimitsProbe::~LimitsProbe() = default;

double LimitsProbe::bandwidth_gb_per_s(int runs, int threads) {
  return bandwidth(buffer_.get(), floats_, threads > 0 ? threads : threads_, avx2_, runs);
}

double LimitsProbe::gemm_gflop_per_s(int runs, int threads) {
  return gemm(threads > 0 ? threads : threads_, avx2_, runs);
}

double LimitsProbe::bf16_dot_gflop_per_s(int runs, int threads) {
  if (!cpu::cpu_features().avx512_bf16) return 0;
  return gemm_bf16(threads > 0 ? threads : threads_, runs);
}

MachineLimits measure_machine(int buffer_mib) {
  LimitsProbe probe(buffer_mib);
  MachineLimits m;
  m.threads = probe.threads();
  m.avx2_fma = probe.avx2_fma();
  m.bandwidth_gb_per_s = probe.bandwidth_gb_per_s(8);
  m.bandwidth_1t_gb_per_s = probe.bandwidth_gb_per_s(3, 1);
  m.gemm_gflop_per_s = probe.gemm_gflop_per_s(10);
  m.gemm_1t_gflop_per_s = probe.gemm_gflop_per_s(3, 1);
  m.kernel_matmul_gflop_per_s = kernel_matmul(3);
  m.bf16_dot_gflop_per_s = probe.bf16_dot_gflop_per_s(10);
  // Other processes on a small machine can make the all-core run slower than one core; the
  // limit is what the hardware did reach.
  m.bandwidth_gb_per_s = std::max(m.bandwidth_gb_per_s, m.bandwidth_1t_gb_per_s);
  m.gemm_gflop_per_s = std::max(m.gemm_gflop_per_s, m.gemm_1t_gflop_per_s);
  return m;
}

}  // namespace llm::bench
