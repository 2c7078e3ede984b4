// AVX2+FMA tile kernels of matmul_packed. Compiled for every x86-64 (function target
// attributes, not -mavx2 for the file), so nothing here may run unless cpu_features() says so.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/packed_matmul_kernels.h"

#define LLM_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace llm::cpu::detail {
namespace {

// Eight consecutive weights as floats.
template <WeightType WT>
LLM_AVX2 inline __m256 load8(const void* base, int64_t i) {
  if constexpr (WT == WeightType::kF32) {
    return _mm256_loadu_ps(static_cast<const float*>(base) + i);
  } else {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i));
    if constexpr (WT == WeightType::kBF16) {
      // bf16 is the top half of an f32: widen and shift, exact.
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    } else {
      return _mm256_cvtph_ps(h);
    }
  }
}

// out[0..M-1][0..cols-1] = x[0..M-1] . panel^T. M rows x 16 columns in 2*M accumulators: with M =
// 6 that is 12 independent FMA chains, enough to hide the FMA latency on two FMA ports.
template <int M, WeightType WT>
LLM_AVX2 void tile(const float* x, int64_t ldx, const void* panel, int64_t K, float* out,
                   int64_t ldo, int64_t cols) {
  __m256 acc[M][2];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m256 w0 = load8<WT>(panel, k * kPanel);
    const __m256 w1 = load8<WT>(panel, k * kPanel + 8);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m256 xb = _mm256_broadcast_ss(x + m * ldx + k);
      acc[m][0] = _mm256_fmadd_ps(xb, w0, acc[m][0]);
      acc[m][1] = _mm256_fmadd_ps(xb, w1, acc[m][1]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
    float* o = out + m * ldo;
    if (cols == kPanel) {
      _mm256_storeu_ps(o, acc[m][0]);
      _mm256_storeu_ps(o + 8, acc[m][1]);
    } else {
      alignas(32) float tmp[kPanel];
      _mm256_store_ps(tmp, acc[m][0]);
      _mm256_store_ps(tmp + 8, acc[m][1]);
      for (int64_t j = 0; j < cols; ++j) o[j] = tmp[j];
    }
  }
}

template <WeightType WT>
LLM_AVX2 void panels(const float* x, int64_t ldx, int64_t T, const PackedWeight& w, int64_t pb,
                     int64_t pe, float* out, int64_t ldo) {
  const int64_t K = w.k;
  for (int64_t p = pb; p < pe; ++p) {
    const void* panel = static_cast<const char*>(w.data) +
                        p * K * kPanel * static_cast<int64_t>(weight_type_size(WT));
    const int64_t cols = w.n - p * kPanel < kPanel ? w.n - p * kPanel : kPanel;
    float* o = out + p * kPanel;
    int64_t t = 0;
    for (; t + 6 <= T; t += 6) tile<6, WT>(x + t * ldx, ldx, panel, K, o + t * ldo, ldo, cols);
    switch (T - t) {
      case 5:
        tile<5, WT>(x + t * ldx, ldx, panel, K, o + t * ldo, ldo, cols);
        break;
      case 4:
        tile<4, WT>(x + t * ldx, ldx, panel, K, o + t * ldo, ldo, cols);
        break;
      case 3:
        tile<3, WT>(x + t * ldx, ldx, panel, K, o + t * ldo, ldo, cols);
        break;
      case 2:
        tile<2, WT>(x + t * ldx, ldx, panel, K, o + t * ldo, ldo, cols);
        break;
      case 1:
        tile<1, WT>(x + t * ldx, ldx, panel, K, o + t * ldo, ldo, cols);
        break;
      default:
        break;
    }
  }
}

}  // namespace

void matmul_packed_avx2(const float* x, int64_t ldx, int64_t T, const PackedWeight& w,
                        int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo) {
  switch (w.type) {
    case WeightType::kF32:
      panels<WeightType::kF32>(x, ldx, T, w, panel_begin, panel_end, out, ldo);
      break;
    case WeightType::kBF16:
      panels<WeightType::kBF16>(x, ldx, T, w, panel_begin, panel_end, out, ldo);
      break;
    case WeightType::kF16:
      panels<WeightType::kF16>(x, ldx, T, w, panel_begin, panel_end, out, ldo);
      break;
  }
}

}  // namespace llm::cpu::detail
