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

// out[0..M-1][0..P*16-1] = x[0..M-1] . (P consecutive panels)^T, the last panel's columns cut to
// `cols`. M rows x P panels x 16 columns in 2*M*P accumulators: 6 x 1 gives 12 independent FMA
// chains and 1 x 4 or 2 x 2 give 8, enough to hide the FMA latency on two FMA ports. A panel is
// K * 16 weights long.
template <int M, int P, WeightType WT>
LLM_AVX2 void tile(const float* x, int64_t ldx, const void* panel, int64_t K, float* out,
                   int64_t ldo, int64_t cols) {
  __m256 acc[M][P][2];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
#pragma GCC unroll 4
    for (int q = 0; q < P; ++q) acc[m][q][0] = acc[m][q][1] = _mm256_setzero_ps();
  }
  for (int64_t k = 0; k < K; ++k) {
#pragma GCC unroll 4
    for (int q = 0; q < P; ++q) {
      const __m256 w0 = load8<WT>(panel, (q * K + k) * kPanel);
      const __m256 w1 = load8<WT>(panel, (q * K + k) * kPanel + 8);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        const __m256 xb = _mm256_broadcast_ss(x + m * ldx + k);
        acc[m][q][0] = _mm256_fmadd_ps(xb, w0, acc[m][q][0]);
        acc[m][q][1] = _mm256_fmadd_ps(xb, w1, acc[m][q][1]);
      }
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
#pragma GCC unroll 4
    for (int q = 0; q < P; ++q) {
      float* o = out + m * ldo + q * kPanel;
      if (q < P - 1 || cols == kPanel) {
        _mm256_storeu_ps(o, acc[m][q][0]);
        _mm256_storeu_ps(o + 8, acc[m][q][1]);
      } else {
        alignas(32) float tmp[kPanel];
        _mm256_store_ps(tmp, acc[m][q][0]);
        _mm256_store_ps(tmp + 8, acc[m][q][1]);
        for (int64_t j = 0; j < cols; ++j) o[j] = tmp[j];
      }
    }
  }
}

template <WeightType WT>
LLM_AVX2 void tile_rows(int rows, const float* x, int64_t ldx, const void* panel, int64_t K,
                        float* out, int64_t ldo, int64_t cols) {
  switch (rows) {
    case 6:
      return tile<6, 1, WT>(x, ldx, panel, K, out, ldo, cols);
    case 5:
      return tile<5, 1, WT>(x, ldx, panel, K, out, ldo, cols);
    case 4:
      return tile<4, 1, WT>(x, ldx, panel, K, out, ldo, cols);
    case 3:
      return tile<3, 1, WT>(x, ldx, panel, K, out, ldo, cols);
    case 2:
      return tile<2, 1, WT>(x, ldx, panel, K, out, ldo, cols);
    default:
      return tile<1, 1, WT>(x, ldx, panel, K, out, ldo, cols);
  }
}

template <WeightType WT>
LLM_AVX2 void panels(const float* x, int64_t ldx, int64_t T, const PackedWeight& w, int64_t pb,
                     int64_t pe, float* out, int64_t ldo) {
  const int64_t K = w.k;
  const int64_t es = static_cast<int64_t>(weight_type_size(WT));
  const int64_t full_panels = w.n / kPanel;
  for (int64_t p = pb; p < pe;) {
    const void* panel = static_cast<const char*>(w.data) + p * K * kPanel * es;
    float* o = out + p * kPanel;
    // One or two rows (decode) take 4 / T full panels at once: 8 FMA chains.
    const int64_t span = T == 1 ? 4 : 2;
    if (T <= 2 && p + span <= pe && p + span <= full_panels) {
      if (T == 1) {
        tile<1, 4, WT>(x, ldx, panel, K, o, ldo, kPanel);
      } else {
        tile<2, 2, WT>(x, ldx, panel, K, o, ldo, kPanel);
      }
      p += span;
      continue;
    }
    const int64_t cols = w.n - p * kPanel < kPanel ? w.n - p * kPanel : kPanel;
    int64_t t = 0;
    while (t < T) {
      // Tiles of 6 rows, but the last 7 to 11 rows go in two tiles of 3 to 6: a tile of 1 or 2
      // rows has too few FMA chains to keep both FMA units busy.
      const int64_t left = T - t;
      const int rows = static_cast<int>(left >= 12 || left == 6 ? 6
                                        : left > 6              ? (left + 1) / 2
                                                                : left);
      tile_rows<WT>(rows, x + t * ldx, ldx, panel, K, o + t * ldo, ldo, cols);
      t += rows;
    }
    ++p;
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
