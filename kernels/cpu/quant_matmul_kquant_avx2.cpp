// AVX2 kernels of matmul_quant for K-quant weights (Q4_K, Q5_K, Q6_K). Compiled for every x86-64
// (function target attributes), so nothing here may run unless cpu_features() says so.
//
// The weight bytes are rebuilt as in quant_matmul_kquant_avx512.cpp (q = nibble | high bits, at
// most 63). vpmaddubsw multiplies them by the signed activations and adds pairs into int16: at
// most 2 x 63 x 127 = 16002, no saturation; vpmaddwd with ones widens each to int32 at once. The
// block sums are exact, so the chain is matmul_kquant_portable's, bit for bit.
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

// v shifted left by s bits (right by -s) in 16-bit lanes.
LLM_AVX2 inline __m256i shift16(__m256i v, int s) {
  return s >= 0 ? _mm256_slli_epi16(v, s) : _mm256_srli_epi16(v, -s);
}

// 8 int8 (rows 8 part .. + 7) as f32.
LLM_AVX2 inline __m256 load_i8(const uint8_t* p) {
  int64_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(v)));
}

// Group g of half h of a block, rows 8 part .. + 7 (32 bytes): see the AVX-512 kernel's weights().
template <QuantKind K>
LLM_AVX2 inline __m256i weights(const uint8_t* block, int h, int g, int part) {
  const __m256i v =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32 + g * 64 + part * 32));
  __m256i w = _mm256_and_si256(h == 0 ? v : _mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
  if constexpr (K == QuantKind::kQ5_K) {
    const __m256i hp =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 288 + part * 32));
    w = _mm256_or_si256(w,
                        _mm256_and_si256(shift16(hp, h == 0 ? 4 - g : -g), _mm256_set1_epi8(0x10)));
  } else if constexpr (K == QuantKind::kQ6_K) {
    const __m256i hp =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 288 + h * 64 + part * 32));
    w = _mm256_or_si256(w, _mm256_and_si256(shift16(hp, 4 - 2 * g), _mm256_set1_epi8(0x30)));
  }
  return w;
}

// M activation rows x one panel (two parts of 8 rows).
template <QuantKind K, int M>
LLM_AVX2 void ktile(const QuantArgs& a, int64_t t0, int64_t p, int64_t cols) {
  constexpr bool kQ6 = K == QuantKind::kQ6_K;
  constexpr int64_t kSB = kKSuperBytes<K>, kBB = kKBlockBytes<K>, kHB = kKHeaderBytes<K>;
  const int64_t kb = a.blocks;
  const uint8_t* panel = a.w + p * (kb / 8 * kSB);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[M][2];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < kb; ++b) {
    const uint8_t* super = panel + b / 8 * kSB;
    const uint8_t* block = super + kHB + b % 8 * kBB;
    __m256i isum[M][2];
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) isum[m][0] = isum[m][1] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      if constexpr (kQ6) {
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          isum[m][0] = isum[m][1] = _mm256_set1_epi32(-32 * a.asum16[((t0 + m) * kb + b) * 2 + h]);
        }
      }
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        const __m256i w[2] = {weights<K>(block, h, g, 0), weights<K>(block, h, g, 1)};
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          const __m256i x = bcast4(a.aq + ((t0 + m) * kb + b) * 32 + 16 * h + 4 * g);
          for (int part = 0; part < 2; ++part) {
            const __m256i pairs = _mm256_maddubs_epi16(w[part], x);
            isum[m][part] = _mm256_add_epi32(isum[m][part], _mm256_madd_epi16(pairs, ones));
          }
        }
      }
      if constexpr (kQ6) {
        for (int part = 0; part < 2; ++part) {
          const __m256 s =
              _mm256_mul_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(super) + part * 8),
                            load_i8(block + 16 * h + part * 8));
#pragma GCC unroll 8
          for (int m = 0; m < M; ++m) {
            const __m256 scale = _mm256_mul_ps(s, _mm256_set1_ps(a.ad[(t0 + m) * kb + b]));
            acc[m][part] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[m][part]), scale, acc[m][part]);
          }
        }
      }
    }
    if constexpr (!kQ6) {
      const auto* hdr = reinterpret_cast<const float*>(super);
      for (int part = 0; part < 2; ++part) {
        const __m256 s = _mm256_mul_ps(_mm256_loadu_ps(hdr + part * 8), load_i8(block + part * 8));
        const __m256 mn =
            _mm256_mul_ps(_mm256_loadu_ps(hdr + 16 + part * 8), load_i8(block + 16 + part * 8));
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          const __m256 da = _mm256_set1_ps(a.ad[(t0 + m) * kb + b]);
          const auto neg_sum = static_cast<float>(-a.asum[(t0 + m) * kb + b]);
          acc[m][part] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[m][part]), _mm256_mul_ps(s, da),
                                         acc[m][part]);
          acc[m][part] =
              _mm256_fmadd_ps(_mm256_set1_ps(neg_sum), _mm256_mul_ps(mn, da), acc[m][part]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
    float* o = a.out + (t0 + m) * a.ldo + p * 16;
    alignas(32) float tmp[16];
    _mm256_store_ps(tmp, acc[m][0]);
    _mm256_store_ps(tmp + 8, acc[m][1]);
    for (int64_t j = 0; j < cols; ++j) o[j] = tmp[j];
  }
}

template <QuantKind K>
LLM_AVX2 void kpanels(const QuantArgs& a) {
  for (int64_t p = a.panel_begin; p < a.panel_end; ++p) {
    const int64_t cols = a.n - p * 16 < 16 ? a.n - p * 16 : 16;
    for (int64_t t = 0; t < a.T;) {
      const int64_t rows = a.T - t >= 3 ? 3 : a.T - t;
      if (rows == 3) {
        ktile<K, 3>(a, t, p, cols);
      } else if (rows == 2) {
        ktile<K, 2>(a, t, p, cols);
      } else {
        ktile<K, 1>(a, t, p, cols);
      }
      t += rows;
    }
  }
}

}  // namespace

void matmul_kquant_avx2(const QuantArgs& a) {
  switch (a.kind) {
    case QuantKind::kQ4_K:
      return kpanels<QuantKind::kQ4_K>(a);
    case QuantKind::kQ5_K:
      return kpanels<QuantKind::kQ5_K>(a);
    default:
      return kpanels<QuantKind::kQ6_K>(a);
  }
}

}  // namespace llm::cpu::detail
