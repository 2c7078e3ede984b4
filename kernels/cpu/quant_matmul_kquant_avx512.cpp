// AVX-512 VNNI kernels of matmul_quant for K-quant weights (Q4_K, Q5_K, Q6_K), built natively and
// through SIMDe (quant_matmul_kquant_avx512_simde.cpp) as quant_matmul_avx512.cpp is; the same
// rules hold (nothing here runs unless cpu_features() says so; no inline function of another
// header is called).
//
// Per block of 32 columns the weights are rebuilt as unsigned bytes, q = nibble | high bits
// (shifted up from the high-bit plane), and vpdpbusd adds 4 columns x 16 rows per instruction,
// exactly as for Q4_0. The two halves of 16 columns (low and high nibbles) are summed separately
// for Q6_K, whose scales cover 16 columns. The float chain is matmul_kquant_portable's.
#include <cstdint>

#include "kernels/cpu/quant_matmul_avx512_common.h"
#include "kernels/cpu/quant_matmul_kernels.h"

namespace llm::cpu::detail::LLM_AVX512_NS {
namespace {

// v shifted left by s bits (right by -s) in 16-bit lanes; s is a constant once unrolled.
inline simde__m512i shift16(simde__m512i v, int s) {
  return s >= 0 ? simde_mm512_slli_epi16(v, static_cast<unsigned>(s))
                : simde_mm512_srli_epi16(v, static_cast<unsigned>(-s));
}

// 16 int8 (one per row) as f32 (exact). SIMDe 0.7 has no _mm512_cvtepi8_epi32.
inline simde__m512 load_i8(const uint8_t* p) {
#ifdef LLM_AVX512_EMULATED
  float f[kLanes];
  for (int i = 0; i < kLanes; ++i) f[i] = static_cast<float>(static_cast<int8_t>(p[i]));
  return simde_mm512_loadu_ps(f);
#else
  return _mm512_cvtepi32_ps(
      _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
#endif
}

// The weight bytes of group g (columns 16 h + 4 g .. + 3) of a block for 16 rows: the nibbles,
// plus the high bits that the plane holds (quant_matmul.h) moved to bits 4 (Q5_K) or 4..5 (Q6_K).
// (The 16-bit shifts carry bits across bytes only into bits the mask clears.)
template <QuantKind K>
inline simde__m512i weights(const uint8_t* block, int h, int g) {
  const simde__m512i v = simde_mm512_loadu_si512(block + 32 + g * 64);
  simde__m512i w =
      simde_mm512_and_si512(h == 0 ? v : simde_mm512_srli_epi16(v, 4), simde_mm512_set1_epi8(0x0f));
  if constexpr (K == QuantKind::kQ5_K) {
    // Bit g (low half) or 4 + g (high half) of the plane's byte.
    const simde__m512i hp = simde_mm512_loadu_si512(block + 288);
    w = simde_mm512_or_si512(
        w, simde_mm512_and_si512(shift16(hp, h == 0 ? 4 - g : -g), simde_mm512_set1_epi8(0x10)));
  } else if constexpr (K == QuantKind::kQ6_K) {
    // Bits 2g, 2g + 1 of the half's vector.
    const simde__m512i hp = simde_mm512_loadu_si512(block + 288 + h * 64);
    w = simde_mm512_or_si512(
        w, simde_mm512_and_si512(shift16(hp, 4 - 2 * g), simde_mm512_set1_epi8(0x30)));
  }
  return w;
}

// M activation rows x P consecutive panels.
template <QuantKind K, int M, int P>
void ktile(const QuantArgs& a, int64_t t0, int64_t p0, int64_t cols) {
  constexpr bool kQ6 = K == QuantKind::kQ6_K;
  constexpr int64_t kSB = kKSuperBytes<K>, kBB = kKBlockBytes<K>, kHB = kKHeaderBytes<K>;
  const int64_t kb = a.blocks, pbytes = kb / 8 * kSB;
  const uint8_t* panel = a.w + p0 * pbytes;
  const int8_t* xq = a.aq + t0 * kb * 32;
  const float* xd = a.ad + t0 * kb;
  const int32_t* xs = a.asum + t0 * kb;
  const int32_t* xs16 = a.asum16 + t0 * kb * 2;
  simde__m512 acc[M][P];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) acc[m][q] = simde_mm512_setzero_ps();
  }
  for (int64_t b = 0; b < kb; ++b) {
    const uint8_t* super = panel + b / 8 * kSB;
    const uint8_t* block = super + kHB + b % 8 * kBB;
    simde__m512i isum[M][P];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      if (kQ6 || h == 0) {
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          // Q6_K's q - 32: the offset times the half's activation sum, subtracted up front.
          const simde__m512i start =
              simde_mm512_set1_epi32(kQ6 ? -32 * xs16[(m * kb + b) * 2 + h] : 0);
#pragma GCC unroll 8
          for (int q = 0; q < P; ++q) isum[m][q] = start;
        }
      }
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        simde__m512i w[P];
#pragma GCC unroll 8
        for (int q = 0; q < P; ++q) w[q] = weights<K>(block + q * pbytes, h, g);
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          const simde__m512i x = bcast4(xq + (m * kb + b) * 32 + 16 * h + 4 * g);
#pragma GCC unroll 8
          for (int q = 0; q < P; ++q) isum[m][q] = simde_mm512_dpbusd_epi32(isum[m][q], w[q], x);
        }
      }
      if constexpr (kQ6) {
        // acc = fma(isum_h, (d * sc_h) * d_a, acc)
#pragma GCC unroll 8
        for (int q = 0; q < P; ++q) {
          const simde__m512 s = simde_mm512_mul_ps(simde_mm512_loadu_ps(super + q * pbytes),
                                                   load_i8(block + q * pbytes + 16 * h));
#pragma GCC unroll 8
          for (int m = 0; m < M; ++m) {
            const simde__m512 scale = simde_mm512_mul_ps(s, simde_mm512_set1_ps(xd[m * kb + b]));
            acc[m][q] = fmadd(to_float(isum[m][q]), scale, acc[m][q]);
          }
        }
      }
    }
    if constexpr (!kQ6) {
      // acc = fma(isum, (d * sc) * d_a, acc); acc = fma(-asum, (dmin * mn) * d_a, acc)
#pragma GCC unroll 8
      for (int q = 0; q < P; ++q) {
        const uint8_t* sp = super + q * pbytes;
        const simde__m512 s =
            simde_mm512_mul_ps(simde_mm512_loadu_ps(sp), load_i8(block + q * pbytes));
        const simde__m512 mn =
            simde_mm512_mul_ps(simde_mm512_loadu_ps(sp + 64), load_i8(block + q * pbytes + 16));
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          const simde__m512 da = simde_mm512_set1_ps(xd[m * kb + b]);
          acc[m][q] = fmadd(to_float(isum[m][q]), simde_mm512_mul_ps(s, da), acc[m][q]);
          acc[m][q] = fmadd(simde_mm512_set1_ps(static_cast<float>(-xs[m * kb + b])),
                            simde_mm512_mul_ps(mn, da), acc[m][q]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) {
      store_cols(a.out + (t0 + m) * a.ldo + (p0 + q) * kLanes, acc[m][q],
                 q < P - 1 ? kLanes : cols);
    }
  }
}

// Tile shapes as quant_matmul_avx512.cpp's: 4 panels for decode, else 2 panels x up to 4 rows.
template <QuantKind K, int M>
void krun_rows(const QuantArgs& a, int panels, int64_t t, int64_t p, int64_t cols) {
  switch (panels) {
    case 4:
      if constexpr (M <= 2) return ktile<K, M, 4>(a, t, p, cols);
      break;
    case 2:
      return ktile<K, M, 2>(a, t, p, cols);
    default:
      break;
  }
  return ktile<K, M, 1>(a, t, p, cols);
}

template <QuantKind K>
void krun(const QuantArgs& a) {
  const int64_t full_panels = a.n / kLanes;
  for (int64_t p = a.panel_begin; p < a.panel_end;) {
    int panels = a.T <= 2 ? 4 : 2;
    while (panels > 1 && (p + panels > a.panel_end || p + panels > full_panels)) panels /= 2;
    const int64_t last = p + panels - 1;
    const int64_t cols = a.n - last * kLanes < kLanes ? a.n - last * kLanes : kLanes;
    for (int64_t t = 0; t < a.T;) {
      const int rows = a.T - t >= 4 ? 4 : static_cast<int>(a.T - t);
      switch (rows) {
        case 4:
          krun_rows<K, 4>(a, panels, t, p, cols);
          break;
        case 3:
          krun_rows<K, 3>(a, panels, t, p, cols);
          break;
        case 2:
          krun_rows<K, 2>(a, panels, t, p, cols);
          break;
        default:
          krun_rows<K, 1>(a, panels, t, p, cols);
          break;
      }
      t += rows;
    }
    p += panels;
  }
}

}  // namespace

void matmul_kquant(const QuantArgs& a) {
  switch (a.kind) {
    case QuantKind::kQ4_K:
      return krun<QuantKind::kQ4_K>(a);
    case QuantKind::kQ5_K:
      return krun<QuantKind::kQ5_K>(a);
    default:
      return krun<QuantKind::kQ6_K>(a);
  }
}

}  // namespace llm::cpu::detail::LLM_AVX512_NS
