// AVX-512 VNNI kernels of matmul_quant, written against SIMDe's names so that one source builds
// twice: natively (this file, with -mavx512vnni and friends: every simde_mm512_* call is the
// instruction) and emulated (quant_matmul_avx512_simde.cpp: SIMDe's portable C, for the tests on
// any x86-64). As in packed_matmul_avx512.cpp, nothing here may run natively unless
// cpu_features() says so, so this file calls no inline function of another header.
//
// One vpdpbusd multiplies 4 unsigned weight bytes by 4 signed activation bytes in each of 16
// lanes and adds the 4 products to the lane: with a panel block's group of 64 bytes (16 rows x 4
// consecutive k) and the 4 activation bytes broadcast, it adds 4 k terms to 16 rows at once.
#include <cstdint>

#include "kernels/cpu/quant_matmul_avx512_common.h"
#include "kernels/cpu/quant_matmul_kernels.h"

namespace llm::cpu::detail::LLM_AVX512_NS {
namespace {

// M activation rows x P consecutive panels. Per block: the exact integer dot products (started
// at -offset * sum(a), the weights' unsigned offset), then one FMA per output element.
template <QuantKind K, int M, int P>
void tile(const QuantArgs& a, int64_t t0, int64_t p0, int64_t cols) {
  constexpr bool Q4 = K != QuantKind::kQ8_0, kQ41 = K == QuantKind::kQ4_1;
  constexpr int64_t kQB = Q4 ? kQ4PanelBlock : kQ8PanelBlock;
  constexpr int64_t kSG = kQ41 ? kQ41PanelScales : kPanelScales;
  constexpr int kOffset = kQ41 ? 0 : Q4 ? 8 : 128;  // the unsigned weights' offset
  const int64_t kb = a.blocks;
  const int64_t pbytes = kb * (kQB + kSG);
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
      const simde__m512i start = simde_mm512_set1_epi32(-kOffset * xs[m * kb + b]);
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
      const uint8_t* scales = panel + q * pbytes + kb * kQB + b * kSG;
      const simde__m512 dw = load_f16(scales);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        const simde__m512 scale = simde_mm512_mul_ps(dw, simde_mm512_set1_ps(xd[m * kb + b]));
        acc[m][q] = fmadd(to_float(isum[m][q]), scale, acc[m][q]);
      }
      if constexpr (kQ41) {  // acc = fma(asum, m * d_a, acc)
        const simde__m512 mw = load_f16(scales + 2 * kLanes);
#pragma GCC unroll 8
        for (int m = 0; m < M; ++m) {
          acc[m][q] = fmadd(simde_mm512_set1_ps(static_cast<float>(xs[m * kb + b])),
                            simde_mm512_mul_ps(mw, simde_mm512_set1_ps(xd[m * kb + b])), acc[m][q]);
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

// Tile shapes: decode (T = 1) takes 4 panels a tile for 4 independent dot-product chains, more
// rows take 2 panels and up to 4 rows (2 x M x P accumulators, the weights and broadcasts within
// the 32 zmm registers).
inline int panels_for(int64_t T) {
  return T <= 2 ? 4 : 2;
}
inline int rows_for(int64_t left) {
  return static_cast<int>(left >= 4 ? 4 : left);
}

template <QuantKind K, int M>
void run_rows(const QuantArgs& a, int panels, int64_t t, int64_t p, int64_t cols) {
  switch (panels) {
    case 4:
      if constexpr (M <= 2) return tile<K, M, 4>(a, t, p, cols);
      break;
    case 2:
      return tile<K, M, 2>(a, t, p, cols);
    default:
      break;
  }
  return tile<K, M, 1>(a, t, p, cols);
}

template <QuantKind K>
void run(const QuantArgs& a, int rows, int panels, int64_t t, int64_t p, int64_t cols) {
  switch (rows) {
    case 4:
      return run_rows<K, 4>(a, panels, t, p, cols);
    case 3:
      return run_rows<K, 3>(a, panels, t, p, cols);
    case 2:
      return run_rows<K, 2>(a, panels, t, p, cols);
    default:
      return run_rows<K, 1>(a, panels, t, p, cols);
  }
}

}  // namespace

void matmul_quant(const QuantArgs& a) {
  if (a.kind == QuantKind::kQ4_K || a.kind == QuantKind::kQ5_K || a.kind == QuantKind::kQ6_K) {
    return matmul_kquant(a);
  }
  const int64_t full_panels = a.n / kLanes;
  for (int64_t p = a.panel_begin; p < a.panel_end;) {
    int panels = panels_for(a.T);
    while (panels > 1 && (p + panels > a.panel_end || p + panels > full_panels)) panels /= 2;
    const int64_t last = p + panels - 1;
    const int64_t cols = a.n - last * kLanes < kLanes ? a.n - last * kLanes : kLanes;
    for (int64_t t = 0; t < a.T;) {
      const int rows = rows_for(a.T - t);
      if (a.kind == QuantKind::kQ4_0) {
        run<QuantKind::kQ4_0>(a, rows, panels, t, p, cols);
      } else if (a.kind == QuantKind::kQ4_1) {
        run<QuantKind::kQ4_1>(a, rows, panels, t, p, cols);
      } else {
        run<QuantKind::kQ8_0>(a, rows, panels, t, p, cols);
      }
      t += rows;
    }
    p += panels;
  }
}

}  // namespace llm::cpu::detail::LLM_AVX512_NS
