// AVX2 kernels of matmul_quant. Compiled for every x86-64 (function target attributes), so
// nothing here may run unless cpu_features() says so.
//
// AVX2 has no vpdpbusd: vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16
// (saturating), vpmaddwd with ones adds the pairs into int32. Saturation is out of reach: Q4_0's
// nibbles (<= 15) times activations (|a| <= 127) sum to at most 30480 over a lane's 16 products of
// a block, and Q8_0 uses the sign trick, |w| x (a * sign(w)), at most 128 * 127 * 2 = 32512 per
// pair. Both give the same exact block sums as the other kernels.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/quant_matmul_kernels.h"

#define LLM_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace llm::cpu::detail {
namespace {

LLM_AVX2 inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

// M activation rows x one panel (two halves of 8 rows).
template <bool Q4, int M>
LLM_AVX2 void tile(const QuantArgs& a, int64_t t0, int64_t p, int64_t cols) {
  constexpr int64_t kQB = Q4 ? kQ4PanelBlock : kQ8PanelBlock;
  const int64_t kb = a.blocks;
  const uint8_t* panel = a.w + p * kb * (kQB + 32);
  const int8_t* xq = a.aq + t0 * kb * 32;
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i nibble = _mm256_set1_epi8(0x0f), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 acc[M][2];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < kb; ++b) {
    const uint8_t* qb = panel + b * kQB;
    __m256i isum[M][2];
    if constexpr (Q4) {
      __m256i s16[M][2];  // int16 pair sums, <= 30480 in magnitude
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) s16[m][0] = s16[m][1] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        __m256i lo[2], hi[2];
        for (int h = 0; h < 2; ++h) {
          const __m256i v =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qb + g * 64 + h * 32));
          lo[h] = _mm256_and_si256(v, nibble);
          hi[h] = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
        }
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          const __m256i xl = bcast4(xq + (m * kb + b) * 32 + 4 * g);
          const __m256i xh = bcast4(xq + (m * kb + b) * 32 + 16 + 4 * g);
          for (int h = 0; h < 2; ++h) {
            s16[m][h] = _mm256_add_epi16(
                s16[m][h],
                _mm256_add_epi16(_mm256_maddubs_epi16(lo[h], xl), _mm256_maddubs_epi16(hi[h], xh)));
          }
        }
      }
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        const __m256i start = _mm256_set1_epi32(-8 * a.asum[(t0 + m) * kb + b]);
        for (int h = 0; h < 2; ++h)
          isum[m][h] = _mm256_add_epi32(start, _mm256_madd_epi16(s16[m][h], ones));
      }
    } else {
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) isum[m][0] = isum[m][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int g = 0; g < 8; ++g) {
        __m256i w[2], aw[2];
        for (int h = 0; h < 2; ++h) {
          w[h] = _mm256_xor_si256(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qb + g * 64 + h * 32)), flip);
          aw[h] = _mm256_abs_epi8(w[h]);
        }
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          const __m256i x = bcast4(xq + (m * kb + b) * 32 + 4 * g);
          for (int h = 0; h < 2; ++h) {
            const __m256i pairs = _mm256_maddubs_epi16(aw[h], _mm256_sign_epi8(x, w[h]));
            isum[m][h] = _mm256_add_epi32(isum[m][h], _mm256_madd_epi16(pairs, ones));
          }
        }
      }
    }
    const uint8_t* scales = panel + kb * kQB + b * 32;
    for (int h = 0; h < 2; ++h) {
      const __m256 dw =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + h * 16)));
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(a.ad[(t0 + m) * kb + b]));
        acc[m][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[m][h]), scale, acc[m][h]);
      }
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
    float* o = a.out + (t0 + m) * a.ldo + p * 16;
    if (cols == 16) {
      _mm256_storeu_ps(o, acc[m][0]);
      _mm256_storeu_ps(o + 8, acc[m][1]);
    } else {
      alignas(32) float tmp[16];
      _mm256_store_ps(tmp, acc[m][0]);
      _mm256_store_ps(tmp + 8, acc[m][1]);
      for (int64_t j = 0; j < cols; ++j) o[j] = tmp[j];
    }
  }
}

template <bool Q4>
LLM_AVX2 void panels(const QuantArgs& a) {
  for (int64_t p = a.panel_begin; p < a.panel_end; ++p) {
    const int64_t cols = a.n - p * 16 < 16 ? a.n - p * 16 : 16;
    for (int64_t t = 0; t < a.T;) {
      // Tiles of 3 rows: the weights are loaded once per 3 rows, and the accumulators, weights
      // and broadcasts stay close to the 16 ymm registers.
      const int64_t rows = a.T - t >= 3 ? 3 : a.T - t;
      if (rows == 3) {
        tile<Q4, 3>(a, t, p, cols);
      } else if (rows == 2) {
        tile<Q4, 2>(a, t, p, cols);
      } else {
        tile<Q4, 1>(a, t, p, cols);
      }
      t += rows;
    }
  }
}

}  // namespace

void matmul_quant_avx2(const QuantArgs& a) {
  if (a.q4) {
    panels<true>(a);
  } else {
    panels<false>(a);
  }
}

}  // namespace llm::cpu::detail
