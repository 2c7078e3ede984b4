// AVX-512 VNNI kernels of matmul_quant, written against SIMDe's names so that one source builds
// twice: natively (this file, with -mavx512vnni and friends: every simde_mm512_* call is the
// instruction) and emulated (quant_matmul_avx512_simde.cpp: SIMDe's portable C, for the tests on
// any x86-64). As in packed_matmul_avx512.cpp, nothing here may run natively unless
// cpu_features() says so, so this file calls no inline function of another header.
//
// One vpdpbusd multiplies 4 unsigned weight bytes by 4 signed activation bytes in each of 16
// lanes and adds the 4 products to the lane: with a panel block's group of 64 bytes (16 rows x 4
// consecutive k) and the 4 activation bytes broadcast, it adds 4 k terms to 16 rows at once.
#include <simde/x86/avx512.h>

#include <cstdint>
#include <cstring>

#ifndef LLM_AVX512_EMULATED
#include <immintrin.h>
#endif

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/quant_matmul_kernels.h"

#ifndef LLM_AVX512_NS
#define LLM_AVX512_NS avx512_native
#endif

namespace llm::cpu::detail::LLM_AVX512_NS {
namespace {

constexpr int kLanes = 16;  // one panel's 16 rows in one register

// A fused multiply-add (SIMDe emulates _mm512_fmadd_ps as two roundings; see
// packed_matmul_avx512.cpp).
inline simde__m512 fmadd(simde__m512 a, simde__m512 b, simde__m512 c) {
#ifdef LLM_AVX512_EMULATED
  float av[kLanes], bv[kLanes], cv[kLanes];
  simde_mm512_storeu_ps(av, a);
  simde_mm512_storeu_ps(bv, b);
  simde_mm512_storeu_ps(cv, c);
  for (int i = 0; i < kLanes; ++i) cv[i] = __builtin_fmaf(av[i], bv[i], cv[i]);
  return simde_mm512_loadu_ps(cv);
#else
  return simde_mm512_fmadd_ps(a, b, c);
#endif
}

// 16 f16 scales as f32 (exact). SIMDe 0.7 has no _mm512_cvtph_ps.
inline simde__m512 load_f16(const uint8_t* p) {
#ifdef LLM_AVX512_EMULATED
  uint16_t h[kLanes];
  float f[kLanes];
  std::memcpy(h, p, sizeof h);
  for (int i = 0; i < kLanes; ++i) f[i] = f16_to_f32(h[i]);
  return simde_mm512_loadu_ps(f);
#else
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
#endif
}

// int32 to f32 (exact here: a block's |isum| < 2^24). SIMDe 0.7 lacks _mm512_cvtepi32_ps too.
inline simde__m512 to_float(simde__m512i v) {
#ifdef LLM_AVX512_EMULATED
  int32_t i[kLanes];
  float f[kLanes];
  simde_mm512_storeu_si512(i, v);
  for (int l = 0; l < kLanes; ++l) f[l] = static_cast<float>(i[l]);
  return simde_mm512_loadu_ps(f);
#else
  return _mm512_cvtepi32_ps(v);
#endif
}

inline simde__m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return simde_mm512_set1_epi32(v);
}

inline void store_cols(float* o, simde__m512 v, int64_t cols) {
  if (cols == kLanes) {
    simde_mm512_storeu_ps(o, v);
    return;
  }
  float tmp[kLanes];
  simde_mm512_storeu_ps(tmp, v);
  for (int64_t j = 0; j < cols; ++j) o[j] = tmp[j];
}

// M activation rows x P consecutive panels. Per block: the exact integer dot products (started
// at -offset * sum(a), the weights' unsigned offset), then one FMA per output element.
template <bool Q4, int M, int P>
void tile(const QuantArgs& a, int64_t t0, int64_t p0, int64_t cols) {
  constexpr int64_t kQB = Q4 ? kQ4PanelBlock : kQ8PanelBlock;
  const int64_t kb = a.blocks;
  const int64_t pbytes = kb * (kQB + 2 * kLanes);
  const uint8_t* panel = a.w + p0 * pbytes;
  const int8_t* xq = a.aq + t0 * kb * 32;
  const float* xd = a.ad + t0 * kb;
  const int32_t* xs = a.asum + t0 * kb;
  const simde__m512i nibble = simde_mm512_set1_epi8(0x0f);
  simde__m512 acc[M][P];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) acc[m][q] = simde_mm512_setzero_ps();
  }
  for (int64_t b = 0; b < kb; ++b) {
    simde__m512i isum[M][P];
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const simde__m512i start = simde_mm512_set1_epi32(-(Q4 ? 8 : 128) * xs[m * kb + b]);
#pragma GCC unroll 8
      for (int q = 0; q < P; ++q) isum[m][q] = start;
    }
    const uint8_t* qb = panel + b * kQB;
    if constexpr (Q4) {
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        simde__m512i lo[P], hi[P];
#pragma GCC unroll 8
        for (int q = 0; q < P; ++q) {
          const simde__m512i v = simde_mm512_loadu_si512(qb + q * pbytes + g * 64);
          lo[q] = simde_mm512_and_si512(v, nibble);
          hi[q] = simde_mm512_and_si512(simde_mm512_srli_epi16(v, 4), nibble);
        }
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          const simde__m512i xl = bcast4(xq + m * kb * 32 + b * 32 + 4 * g);
          const simde__m512i xh = bcast4(xq + m * kb * 32 + b * 32 + 16 + 4 * g);
#pragma GCC unroll 8
          for (int q = 0; q < P; ++q) {
            isum[m][q] = simde_mm512_dpbusd_epi32(isum[m][q], lo[q], xl);
            isum[m][q] = simde_mm512_dpbusd_epi32(isum[m][q], hi[q], xh);
          }
        }
      }
    } else {
#pragma GCC unroll 8
      for (int g = 0; g < 8; ++g) {
        simde__m512i w[P];
#pragma GCC unroll 8
        for (int q = 0; q < P; ++q) w[q] = simde_mm512_loadu_si512(qb + q * pbytes + g * 64);
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          const simde__m512i x = bcast4(xq + m * kb * 32 + b * 32 + 4 * g);
#pragma GCC unroll 8
          for (int q = 0; q < P; ++q) isum[m][q] = simde_mm512_dpbusd_epi32(isum[m][q], w[q], x);
        }
      }
    }
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) {
      const simde__m512 dw = load_f16(panel + q * pbytes + kb * kQB + b * 2 * kLanes);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        const simde__m512 scale = simde_mm512_mul_ps(dw, simde_mm512_set1_ps(xd[m * kb + b]));
        acc[m][q] = fmadd(to_float(isum[m][q]), scale, acc[m][q]);
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

// Tile shapes: decode (T = 1) takes 4 panels a tile for 4 independent dot-product chains, more
// rows take 2 panels and up to 4 rows (2 x M x P accumulators, the weights and broadcasts within
// the 32 zmm registers).
inline int panels_for(int64_t T) {
  return T <= 2 ? 4 : 2;
}
inline int rows_for(int64_t left) {
  return static_cast<int>(left >= 4 ? 4 : left);
}

template <bool Q4, int M>
void run_rows(const QuantArgs& a, int panels, int64_t t, int64_t p, int64_t cols) {
  switch (panels) {
    case 4:
      if constexpr (M <= 2) return tile<Q4, M, 4>(a, t, p, cols);
      break;
    case 2:
      return tile<Q4, M, 2>(a, t, p, cols);
    default:
      break;
  }
  return tile<Q4, M, 1>(a, t, p, cols);
}

template <bool Q4>
void run(const QuantArgs& a, int rows, int panels, int64_t t, int64_t p, int64_t cols) {
  switch (rows) {
    case 4:
      return run_rows<Q4, 4>(a, panels, t, p, cols);
    case 3:
      return run_rows<Q4, 3>(a, panels, t, p, cols);
    case 2:
      return run_rows<Q4, 2>(a, panels, t, p, cols);
    default:
      return run_rows<Q4, 1>(a, panels, t, p, cols);
  }
}

}  // namespace

void matmul_quant(const QuantArgs& a) {
  const int64_t full_panels = a.n / kLanes;
  for (int64_t p = a.panel_begin; p < a.panel_end;) {
    int panels = panels_for(a.T);
    while (panels > 1 && (p + panels > a.panel_end || p + panels > full_panels)) panels /= 2;
    const int64_t last = p + panels - 1;
    const int64_t cols = a.n - last * kLanes < kLanes ? a.n - last * kLanes : kLanes;
    for (int64_t t = 0; t < a.T;) {
      const int rows = rows_for(a.T - t);
      if (a.q4) {
        run<true>(a, rows, panels, t, p, cols);
      } else {
        run<false>(a, rows, panels, t, p, cols);
      }
      t += rows;
    }
    p += panels;
  }
}

}  // namespace llm::cpu::detail::LLM_AVX512_NS
