// AVX-512 tile kernels of matmul_packed, written against SIMDe's names so that one source builds
// twice: natively (this file, compiled with -mavx512f -mavx512bw -mavx512vl -mavx512bf16, where
// every simde_mm512_* call is the instruction itself) and emulated (packed_matmul_avx512_simde.cpp,
// plain x86-64, where SIMDe implements the same calls in portable C). The emulated build lets the
// tests run these kernels on a CPU without AVX-512, as kernels/simt runs the CUDA ones.
//
// Nothing here may run natively unless cpu_features() says so. So this file defines only
// functions in its own namespace and calls no inline function of another header (no std
// containers or algorithms, not even PackedWeight's helpers): the linker keeps one copy of such a
// function for the whole program and could pick this file's AVX-512 one. (avx512_fmadd.h is the
// exception that keeps the rule: its function is in this build's namespace, internal linkage.)
#include <simde/x86/avx512.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/avx512_fmadd.h"

// cpu_kernels.h declares only out-of-line functions (compiled elsewhere, without AVX-512).
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/packed_matmul_kernels.h"

#ifndef LLM_AVX512_NS
#define LLM_AVX512_NS avx512_native
#endif

namespace llm::cpu::detail::LLM_AVX512_NS {
namespace {

constexpr int kLanes = 16;  // one panel row of 16 output columns is one zmm register
static_assert(kLanes == kPanel);

// vdpbf16ps: per lane j, acc += a[2j+1] * b[2j+1], then acc += a[2j] * b[2j], subnormals
// flushed (the order Intel documents, and what Zen 4 computes: checked on 1.6 million lanes).
// SIMDe 0.7 adds the even product first, which differs in the last bit, so the emulated build
// spells the instruction out.
inline simde__m512 dpbf16(simde__m512 acc, simde__m512bh a, simde__m512bh b) {
#ifdef LLM_AVX512_EMULATED
  uint16_t av[2 * kLanes], bv[2 * kLanes];
  float cv[kLanes];
  std::memcpy(av, &a, sizeof av);
  std::memcpy(bv, &b, sizeof bv);
  simde_mm512_storeu_ps(cv, acc);
  auto widen = [](uint16_t h) {  // bf16 to f32, a subnormal as zero
    const uint32_t u = (h & 0x7f80u) == 0 ? (h & 0x8000u) << 16 : uint32_t{h} << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  };
  auto flush = [](float f) { return __builtin_fabsf(f) < 0x1p-126f ? f * 0.0f : f; };
  for (int j = 0; j < kLanes; ++j) {
    cv[j] = flush(flush(cv[j]) + widen(av[2 * j + 1]) * widen(bv[2 * j + 1]));
    cv[j] = flush(cv[j] + widen(av[2 * j]) * widen(bv[2 * j]));
  }
  return simde_mm512_loadu_ps(cv);
#else
  return simde_mm512_dpbf16_ps(acc, a, b);
#endif
}

// Stores one register's 16 columns, or its first `cols` for the ragged last panel.
inline void store_cols(float* o, simde__m512 v, int64_t cols) {
  if (cols == kLanes) {
    simde_mm512_storeu_ps(o, v);
    return;
  }
  float tmp[kLanes];
  simde_mm512_storeu_ps(tmp, v);
  for (int64_t j = 0; j < cols; ++j) o[j] = tmp[j];
}

// f32 weights, k-major panels [K][16]: M rows x P panels, one FMA chain per output element over
// k = 0..K-1, exactly the chains of the AVX2 and portable kernels (so all three agree bit for bit).
template <int M, int P>
void tile_f32(const float* x, int64_t ldx, const float* panel, int64_t K, float* out, int64_t ldo,
              int64_t cols) {
  simde__m512 acc[M][P];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) acc[m][q] = simde_mm512_setzero_ps();
  }
  for (int64_t k = 0; k < K; ++k) {
    simde__m512 w[P];
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) w[q] = simde_mm512_loadu_ps(panel + (q * K + k) * kLanes);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const simde__m512 xb = simde_mm512_set1_ps(x[m * ldx + k]);
#pragma GCC unroll 8
      for (int q = 0; q < P; ++q) acc[m][q] = fmadd(xb, w[q], acc[m][q]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q)
      store_cols(out + m * ldo + q * kLanes, acc[m][q], q < P - 1 ? kLanes : cols);
  }
}

// bf16 weights in pair panels [ceil(K/2)][16][2] against activations rounded to bf16 and stored
// as pairs (x[2j], x[2j+1]) in one 32-bit word: one vdpbf16ps adds two k terms to 16 columns.
// Each output element is one chain over the pairs j = 0..Kp-1, whatever the tile.
template <int M, int P>
void tile_bf16(const uint32_t* xp, int64_t ldxp, const uint16_t* panel, int64_t Kp, float* out,
               int64_t ldo, int64_t cols) {
  simde__m512 acc[M][P];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) acc[m][q] = simde_mm512_setzero_ps();
  }
  for (int64_t j = 0; j < Kp; ++j) {
    simde__m512bh w[P];
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) std::memcpy(&w[q], panel + (q * Kp + j) * 2 * kLanes, sizeof w[q]);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const simde__m512i xi = simde_mm512_set1_epi32(static_cast<int32_t>(xp[m * ldxp + j]));
      simde__m512bh xb;
      std::memcpy(&xb, &xi, sizeof xb);
#pragma GCC unroll 8
      for (int q = 0; q < P; ++q) acc[m][q] = dpbf16(acc[m][q], xb, w[q]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q)
      store_cols(out + m * ldo + q * kLanes, acc[m][q], q < P - 1 ? kLanes : cols);
  }
}

// The tile shapes both kernels use. Zen 4 issues one 512-bit FMA or dot product a cycle with a
// latency of 4 to 6, Zen 5 and Intel two: 8 to 16 independent chains keep either busy. The
// accumulators (M x P), the weights (P) and one broadcast stay within the 32 zmm registers.
struct Shape {
  int rows;
  int panels;
};

// How many panels a tile of T rows takes (when that many full panels are left).
inline int panels_for(int64_t T) {
  return T == 1 ? 8 : T == 2 ? 4 : 2;
}

// Rows of the next tile: 8 at a time, but 9 to 15 left go as two tiles of 5 to 8 (a tile of
// one or two rows has too few chains to keep the units busy).
inline int rows_for(int64_t left) {
  return static_cast<int>(left >= 16 || left == 8 ? 8 : left > 8 ? (left + 1) / 2 : left);
}

template <int M, class Tile>
void dispatch_panels(int panels, Tile&& tile) {
  switch (panels) {
    case 8:
      if constexpr (M == 1) return tile.template operator()<M, 8>();
      break;
    case 4:
      if constexpr (M <= 2) return tile.template operator()<M, 4>();
      break;
    case 2:
      return tile.template operator()<M, 2>();
    default:
      break;
  }
  return tile.template operator()<M, 1>();
}

template <class Tile>
void dispatch(Shape s, Tile&& tile) {
  switch (s.rows) {
    case 8:
      return dispatch_panels<8>(s.panels, tile);
    case 7:
      return dispatch_panels<7>(s.panels, tile);
    case 6:
      return dispatch_panels<6>(s.panels, tile);
    case 5:
      return dispatch_panels<5>(s.panels, tile);
    case 4:
      return dispatch_panels<4>(s.panels, tile);
    case 3:
      return dispatch_panels<3>(s.panels, tile);
    case 2:
      return dispatch_panels<2>(s.panels, tile);
    default:
      return dispatch_panels<1>(s.panels, tile);
  }
}

// Walks panels [pb, pe) in groups, and the T rows of each group in tiles; `run(shape, p, t,
// cols)` computes one tile at panel p, row t.
template <class Run>
void walk(int64_t T, int64_t n, int64_t pb, int64_t pe, Run&& run) {
  const int64_t full_panels = n / kPanel;
  for (int64_t p = pb; p < pe;) {
    int panels = panels_for(T);
    while (panels > 1 && (p + panels > pe || p + panels > full_panels)) panels /= 2;
    const int64_t last = p + panels - 1;
    const int64_t cols = n - last * kPanel < kPanel ? n - last * kPanel : kPanel;
    for (int64_t t = 0; t < T;) {
      const int rows = rows_for(T - t);
      run(Shape{rows, panels}, p, t, cols);
      t += rows;
    }
    p += panels;
  }
}

}  // namespace

void to_bf16_pairs(const float* x, int64_t ldx, int64_t T, int64_t K, uint32_t* xp) {
  const int64_t pairs = (K + 1) / 2;
  // Gathers the low halves of 16 words (even 16-bit lanes) into the low 256 bits.
  alignas(64) int16_t even[32];
  for (int i = 0; i < 32; ++i) even[i] = static_cast<int16_t>(2 * (i % 16));
  const simde__m512i gather = simde_mm512_loadu_si512(even);
  const simde__m512i magnitude = simde_mm512_set1_epi32(0x7fffffff);
  const simde__m512i infinity = simde_mm512_set1_epi32(0x7f800000);
  const simde__m512i one = simde_mm512_set1_epi32(1), half = simde_mm512_set1_epi32(0x7fff);
  const simde__m512i quiet = simde_mm512_set1_epi32(0x40);
  for (int64_t t = 0; t < T; ++t) {
    const float* row = x + t * ldx;
    auto* out = reinterpret_cast<uint16_t*>(xp + t * pairs);
    int64_t k = 0;
    for (; k + kLanes <= K; k += kLanes) {
      // Round to nearest even, NaN kept quiet: cpu::f32_to_bf16 on 16 lanes.
      const simde__m512i u = simde_mm512_loadu_si512(row + k);
      const simde__m512i high = simde_mm512_srli_epi32(u, 16);
      const simde__m512i rounded = simde_mm512_srli_epi32(
          simde_mm512_add_epi32(simde_mm512_add_epi32(u, half), simde_mm512_and_si512(high, one)),
          16);
      const simde__mmask16 nan =
          simde_mm512_cmpgt_epi32_mask(simde_mm512_and_si512(u, magnitude), infinity);
      const simde__m512i r =
          simde_mm512_mask_mov_epi32(rounded, nan, simde_mm512_or_si512(high, quiet));
      simde_mm256_storeu_si256(out + k,
                               simde_mm512_castsi512_si256(simde_mm512_permutexvar_epi16(gather, r)));
    }
    for (; k < K; ++k) out[k] = f32_to_bf16(row[k]);
    if (K % 2 != 0) out[K] = 0;
  }
}

void matmul_f32(const float* x, int64_t ldx, int64_t T, const PackedWeight& w, int64_t pb,
                int64_t pe, float* out, int64_t ldo) {
  const auto* data = static_cast<const float*>(w.data);
  const int64_t K = w.k;
  walk(T, w.n, pb, pe, [&](Shape s, int64_t p, int64_t t, int64_t cols) {
    const float* xs = x + t * ldx;
    const float* panel = data + p * K * kPanel;
    float* o = out + t * ldo + p * kPanel;
    dispatch(s, [&]<int M, int P>() { tile_f32<M, P>(xs, ldx, panel, K, o, ldo, cols); });
  });
}

void matmul_bf16_pairs(const uint32_t* xp, int64_t ldxp, int64_t T, const PackedWeight& w,
                       int64_t pb, int64_t pe, float* out, int64_t ldo) {
  const auto* data = static_cast<const uint16_t*>(w.data);
  const int64_t Kp = (w.k + 1) / 2;
  walk(T, w.n, pb, pe, [&](Shape s, int64_t p, int64_t t, int64_t cols) {
    const uint32_t* xs = xp + t * ldxp;
    const uint16_t* panel = data + p * Kp * 2 * kPanel;
    float* o = out + t * ldo + p * kPanel;
    dispatch(s, [&]<int M, int P>() { tile_bf16<M, P>(xs, ldxp, panel, Kp, o, ldo, cols); });
  });
}

}  // namespace llm::cpu::detail::LLM_AVX512_NS
