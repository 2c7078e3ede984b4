// AVX2 kernels of matmul_quant. Compiled for every x86-64 (function target attributes), so
// nothing here may run unless cpu_features() says so.
//
// AVX2 has no vpdpbusd: vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16
// (saturating), vpmaddwd with ones adds the pairs into int32. Saturation is out of reach: Q4_0's
// (and Q4_1's) nibbles (<= 15) times activations (|a| <= 127) sum to at most 30480 over a lane's 16
// products of a block, and Q8_0 uses the sign trick, |w| x (a * sign(w)), at most 128 * 127 * 2 =
// 32512 per pair. Both give the same exact block sums as the other kernels.
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
template <QuantKind K, int M>
LLM_AVX2 void tile(const QuantArgs& a, int64_t t0, int64_t p, int64_t cols) {
  constexpr bool Q4 = K != QuantKind::kQ8_0, kQ41 = K == QuantKind::kQ4_1;
  constexpr int64_t kQB = Q4 ? kQ4PanelBlock : kQ8PanelBlock;
  constexpr int64_t kSG = kQ41 ? kQ41PanelScales : kPanelScales;
  const int64_t kb = a.blocks;
  const uint8_t* panel = a.w + p * kb * (kQB + kSG);
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
        // Q4_0's offset 8 (Q4_1 has none: its m is a term of its own).
        const __m256i start = _mm256_set1_epi32(-(kQ41 ? 0 : 8) * a.asum[(t0 + m) * kb + b]);
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
    const uint8_t* scales = panel + kb * kQB + b * kSG;
    for (int h = 0; h < 2; ++h) {
      const __m256 dw =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + h * 16)));
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(a.ad[(t0 + m) * kb + b]));
        acc[m][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[m][h]), scale, acc[m][h]);
      }
      if constexpr (kQ41) {  // acc = fma(asum, m * d_a, acc)
        const __m256 mw = _mm256_cvtph_ps(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 32 + h * 16)));
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          const __m256 scale = _mm256_mul_ps(mw, _mm256_set1_ps(a.ad[(t0 + m) * kb + b]));
          acc[m][h] = _mm256_fmadd_ps(_mm256_set1_ps(static_cast<float>(a.asum[(t0 + m) * kb + b])),
                                      scale, acc[m][h]);
        }
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

template <QuantKind K>
LLM_AVX2 void panels(const QuantArgs& a) {
  for (int64_t p = a.panel_begin; p < a.panel_end; ++p) {
    const int64_t cols = a.n - p * 16 < 16 ? a.n - p * 16 : 16;
    for (int64_t t = 0; t < a.T;) {
      // Tiles of 3 rows: the weights are loaded once per 3 rows, and the accumulators, weights
      // and broadcasts stay close to the 16 ymm registers.
      const int64_t rows = a.T - t >= 3 ? 3 : a.T - t;
      if (rows == 3) {
        tile<K, 3>(a, t, p, cols);
      } else if (rows == 2) {
        tile<K, 2>(a, t, p, cols);
      } else {
        tile<K, 1>(a, t, p, cols);
      }
      t += rows;
    }
  }
}

// round(v) half away from zero, as std::round: trunc(v), plus sign(v) where |v - trunc(v)| >= 0.5
// (both exact). Adding 0.5 first would round 0.49999997 up.
LLM_AVX2 inline __m256 round_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
  const __m256 frac = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, t));
  const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  return _mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(sign, _mm256_set1_ps(1.0f))));
}

}  // namespace

LLM_AVX2 void quantize_row_q8_avx2(const float* x, int64_t K, int8_t* q, float* d, int32_t* sums) {
  const int64_t full = K / 32;
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < full; ++b) {
    __m256 v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(x + b * 32 + i * 8);
    // amax: max is exact, so any order of the 32 gives the scalar loop's value.
    __m256 m =
        _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], abs_mask), _mm256_and_ps(v[1], abs_mask)),
                      _mm256_max_ps(_mm256_and_ps(v[2], abs_mask), _mm256_and_ps(v[3], abs_mask)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    const float scale = amax / 127.0f;
    const float id = scale == 0.0f ? 0.0f : 1.0f / scale;
    __m256i r[4];
    for (int i = 0; i < 4; ++i)
      r[i] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v[i], _mm256_set1_ps(id))));
    // The block sum, exact in int32.
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(r[0], r[1]), _mm256_add_epi32(r[2], r[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    // int32 -> int8 (|q| <= 127: no saturation); packs interleaves 128-bit lanes, the
    // permutation puts the 32 bytes back in order.
    const __m256i p =
        _mm256_packs_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * 32),
                        _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    d[b] = scale;
    sums[b] = _mm_cvtsi128_si32(s4);
  }
  if (K % 32 != 0) {  // the padded last block
    quantize_row_q8_portable(x + full * 32, K - full * 32, q + full * 32, d + full, sums + full);
  }
}

void matmul_quant_avx2(const QuantArgs& a) {
  if (is_kquant(a.kind)) {
    matmul_kquant_avx2(a);
  } else if (a.kind == QuantKind::kQ4_0) {
    panels<QuantKind::kQ4_0>(a);
  } else if (a.kind == QuantKind::kQ4_1) {
    panels<QuantKind::kQ4_1>(a);
  } else {
    panels<QuantKind::kQ8_0>(a);
  }
}

}  // namespace llm::cpu::detail
