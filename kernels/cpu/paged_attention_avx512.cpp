// The AVX-512 paged attention kernel, 16 lanes, written against SIMDe's names so that one source
// builds twice, as packed_matmul_avx512.cpp does: natively (this file, compiled with the AVX-512
// flags) and emulated (paged_attention_avx512_simde.cpp, plain x86-64), which the tests run on any
// CPU.
//
// Keys go along the lanes. Each item (a sequence, a KV head, up to 32 query tokens) transposes the
// keys it needs once into Kt [key tile][d][16 keys]; then each tile of up to 8 query rows (heads
// of the GQA group times tokens of the chunk) runs a register tile over d: a few Kt vectors, each
// row's q[d] broadcast into them, one accumulator per (row, 16 keys), no horizontal sums. The
// values are used as stored: per key, its value row's d-vectors times each query row's weight.
//
// Every query row gets the same arithmetic whatever shares its tile, item, thread or step, and
// whether it is a decode or one row of a prefill chunk:
//  - score(row, key j) = (one FMA chain over d = 0 .. hd-1, in order, of q[d] * k_j[d]) * scale;
//  - the softmax max is exact in any order; p_j = e^(score - max) lane by lane (exp16 below);
//  - the denominator is 16 partial sums (lane l takes keys j = l mod 16 in key order) added by
//    one fixed tree;
//  - out[d] = (one FMA chain over the keys in order of p_j * v_j[d]) * (1 / denominator).
// A key the row does not see (after it, or before its window) gets p_j = +0, which adds exact
// zeros, so a tile spanning rows of different lengths changes no bit of any row.
// The order differs from the AVX2 and portable kernels' (eight lane sums per dot): their results
// agree to rounding, not bit for bit.
//
// Nothing here may run natively unless cpu_features() says so: only functions in this file's own
// namespace, and no inline function of another header (see packed_matmul_avx512.cpp).
#include <simde/x86/avx512.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/avx512_fmadd.h"
#include "kernels/cpu/paged_attention_kernels.h"

#ifndef LLM_AVX512_NS
#define LLM_AVX512_NS avx512_native
#endif

namespace llm::cpu::detail::LLM_AVX512_NS {
namespace {

constexpr int kLanes = 16;        // keys per Kt tile, floats per register
constexpr int kRowsPerItem = kAttentionRowsPerItem;  // query tokens per item
constexpr int kMaxRows = 8;       // query rows per register tile

inline int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}
inline int64_t max64(int64_t a, int64_t b) {
  return a > b ? a : b;
}

// `cols` <= 16 floats, zeros after them: a ragged head_dim's last columns, never read past
// (SIMDe 0.7 has no masked loads).
inline simde__m512 load_cols(const float* p, int64_t cols) {
  if (cols == kLanes) return simde_mm512_loadu_ps(p);
  float tmp[kLanes] = {};
  for (int64_t i = 0; i < cols; ++i) tmp[i] = p[i];
  return simde_mm512_loadu_ps(tmp);
}

inline void store_cols(float* p, simde__m512 v, int64_t cols) {
  if (cols == kLanes) return simde_mm512_storeu_ps(p, v);
  float tmp[kLanes];
  simde_mm512_storeu_ps(tmp, v);
  for (int64_t i = 0; i < cols; ++i) p[i] = tmp[i];
}

// e^x for softmax arguments x <= 0 (or NaN, kept): 0 below -87.3, where e^x leaves the normal
// floats. vector_math.h's exp_lanes with FMAs: x = n ln2 + r, |r| <= ln2 / 2, Cephes' degree-6
// polynomial for e^r, 2^n built in the exponent bits (n in [-126, 0], a normal float).
inline simde__m512 exp16(simde__m512 x) {
  const simde__m512 floor_x = simde_mm512_set1_ps(-87.3f);
  const simde__mmask16 low = simde_mm512_cmp_ps_mask(x, floor_x, SIMDE_CMP_LT_OQ);
  const simde__mmask16 nan = simde_mm512_cmp_ps_mask(x, x, SIMDE_CMP_UNORD_Q);
  const simde__m512 xc = simde_mm512_max_ps(x, floor_x);
  // n = floor(x / ln2 + 1/2).
  const simde__m512 nf = simde_mm512_roundscale_ps(
      fmadd(xc, simde_mm512_set1_ps(1.44269504088896341f), simde_mm512_set1_ps(0.5f)),
      SIMDE_MM_FROUND_TO_NEG_INF);
  // r = x - n ln2, ln2 in two parts.
  simde__m512 r = fmadd(nf, simde_mm512_set1_ps(-0.693359375f), xc);
  r = fmadd(nf, simde_mm512_set1_ps(2.12194440e-4f), r);
  simde__m512 p = simde_mm512_set1_ps(1.9875691500e-4f);
  p = fmadd(p, r, simde_mm512_set1_ps(1.3981999507e-3f));
  p = fmadd(p, r, simde_mm512_set1_ps(8.3334519073e-3f));
  p = fmadd(p, r, simde_mm512_set1_ps(4.1665795894e-2f));
  p = fmadd(p, r, simde_mm512_set1_ps(1.6666665459e-1f));
  p = fmadd(p, r, simde_mm512_set1_ps(5.0000001201e-1f));
  p = simde_mm512_add_ps(fmadd(p, simde_mm512_mul_ps(r, r), r), simde_mm512_set1_ps(1.0f));
  // 2^n: n + 127 in the exponent field. The integer n is read from the mantissa of n + 1.5 * 2^23
  // (exact for |n| < 2^22), with SIMDe 0.7's lack of a 512-bit float-to-int conversion.
  const simde__m512 magic = simde_mm512_set1_ps(12582912.0f);
  const simde__m512i n = simde_mm512_sub_epi32(
      simde_mm512_castps_si512(simde_mm512_add_ps(nf, magic)), simde_mm512_castps_si512(magic));
  const simde__m512i bits =
      simde_mm512_slli_epi32(simde_mm512_add_epi32(n, simde_mm512_set1_epi32(127)), 23);
  simde__m512 y = simde_mm512_mul_ps(p, simde_mm512_castsi512_ps(bits));
  y = simde_mm512_mask_mov_ps(y, low, simde_mm512_setzero_ps());
  return simde_mm512_mask_mov_ps(y, nan, x);
}

// Sixteen rows of 16 floats transposed in place: r[c] holds column c afterwards.
inline void transpose16(simde__m512 r[kLanes]) {
  simde__m512 t[kLanes], u[kLanes];
  for (int i = 0; i < kLanes; i += 2) {  // pairs of rows interleaved
    t[i] = simde_mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = simde_mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < kLanes; i += 4) {  // four rows' element c in each 128-bit lane
    u[i] = simde_mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = simde_mm512_shuffle_ps(t[i], t[i + 2], 0xee);
    u[i + 2] = simde_mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = simde_mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  // u[4q + c] holds column c, c + 4, c + 8, c + 12 of rows 4q .. 4q + 3 in its 128-bit lanes.
  for (int h = 0; h < kLanes; h += 8) {
    for (int c = 0; c < 4; ++c) {
      t[h + c] = simde_mm512_shuffle_f32x4(u[h + c], u[h + 4 + c], 0x88);
      t[h + 4 + c] = simde_mm512_shuffle_f32x4(u[h + c], u[h + 4 + c], 0xdd);
    }
  }
  // t[c] (c < 8): column c and c + 8 of rows 0 .. 7; t[8 + c]: the same of rows 8 .. 15.
  for (int c = 0; c < 8; ++c) {
    r[c] = simde_mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
    r[c + 8] = simde_mm512_shuffle_f32x4(t[c], t[8 + c], 0xdd);
  }
}

// The cache rows of one sequence and KV head: row j lives in block table[j / block_size].
struct Rows {
  const float* cache;
  const int32_t* table;
  int64_t block_stride;  // floats from one block to the next: num_kv_heads * bs * hd
  int64_t head_offset;   // floats from a block's start to this KV head's rows: kvh * bs * hd
  int64_t block_size;
  int64_t hd;
  const float* row(int64_t j) const {
    return cache + table[j / block_size] * block_stride + head_offset + (j % block_size) * hd;
  }
};

// kt[t][d][l] (tiles [t_lo, t_hi), [t][hd][16]) = element d of key 16 t + l; keys from `end` on
// read as `zero` ([hd] zeros): they lie past every row of the item, maybe past its cache blocks.
void transpose_keys(const Rows& k, int64_t t_lo, int64_t t_hi, int64_t end, const float* zero,
                    float* kt) {
  const int64_t hd = k.hd;
  for (int64_t t = t_lo; t < t_hi; ++t) {
    const float* rows[kLanes];
    for (int l = 0; l < kLanes; ++l) rows[l] = t * kLanes + l < end ? k.row(t * kLanes + l) : zero;
    float* dst = kt + t * hd * kLanes;
    for (int64_t d0 = 0; d0 < hd; d0 += kLanes) {
      const int64_t cols = min64(kLanes, hd - d0);
      simde__m512 r[kLanes];
      for (int l = 0; l < kLanes; ++l) r[l] = load_cols(rows[l] + d0, cols);
      transpose16(r);
      for (int64_t c = 0; c < cols; ++c) simde_mm512_storeu_ps(dst + (d0 + c) * kLanes, r[c]);
    }
  }
}

// s[r * ls + 16 t + l] = (q_r . key 16 t + l) * scale for R rows and NT tiles from kt
// ([NT][hd][16]): R * NT accumulators, each one FMA chain over d in order.
template <int R, int NT>
[[gnu::always_inline]] inline void score_tile(const float* const* q, const float* kt, int64_t hd,
                                              float scale, float* s, int64_t ls) {
  simde__m512 acc[R][NT];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[r][t] = simde_mm512_setzero_ps();
  }
  for (int64_t d = 0; d < hd; ++d) {
    simde__m512 k[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) k[t] = simde_mm512_loadu_ps(kt + (t * hd + d) * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const simde__m512 qb = simde_mm512_set1_ps(q[r][d]);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) acc[r][t] = fmadd(qb, k[t], acc[r][t]);
    }
  }
  const simde__m512 sc = simde_mm512_set1_ps(scale);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t)
      simde_mm512_storeu_ps(s + r * ls + t * kLanes, simde_mm512_mul_ps(acc[r][t], sc));
  }
}

// Enough independent chains for the FMA latency (4 to 6 cycles, one or two issued a cycle) with
// the accumulators, the loaded vectors and a broadcast within the 32 registers.
constexpr int wide(int rows) {
  return rows >= 5 ? 2 : rows >= 3 ? 4 : 8;
}

// Scores of R rows against key tiles [t_lo, t_hi): s[r * ls + j], kt as transpose_keys left it.
template <int R>
void scores(const float* const* q, const float* kt, int64_t t_lo, int64_t t_hi, int64_t hd,
            float scale, float* s, int64_t ls) {
  constexpr int W = wide(R);
  int64_t t = t_lo;
  const auto at = [&](int64_t tile) { return kt + tile * hd * kLanes; };
  for (; t + W <= t_hi; t += W) score_tile<R, W>(q, at(t), hd, scale, s + t * kLanes, ls);
  if constexpr (W > 4) {
    if (t + 4 <= t_hi) {
      score_tile<R, 4>(q, at(t), hd, scale, s + t * kLanes, ls);
      t += 4;
    }
  }
  if constexpr (W > 2) {
    if (t + 2 <= t_hi) {
      score_tile<R, 2>(q, at(t), hd, scale, s + t * kLanes, ls);
      t += 2;
    }
  }
  if (t < t_hi) score_tile<R, 1>(q, at(t), hd, scale, s + t * kLanes, ls);
}

// One row's scores s[lo, hi) (multiples of 16) become its softmax numerators, 0 outside
// [first, visible); returns the denominator (see the order at the top).
float softmax_row(float* s, int64_t lo, int64_t hi, int64_t first, int64_t visible, float softcap) {
  if (softcap > 0) {
    for (int64_t j = first; j < visible; ++j) s[j] = softcap * __builtin_tanhf(s[j] / softcap);
  }
  for (int64_t j = lo; j < first; ++j) s[j] = -__builtin_inff();
  for (int64_t j = visible; j < hi; ++j) s[j] = -__builtin_inff();
  simde__m512 mv = simde_mm512_set1_ps(-__builtin_inff());
  for (int64_t j = lo; j < hi; j += kLanes)
    mv = simde_mm512_max_ps(mv, simde_mm512_loadu_ps(s + j));
  float lanes[kLanes];
  simde_mm512_storeu_ps(lanes, mv);
  float mx = lanes[0];
  for (int l = 1; l < kLanes; ++l) mx = lanes[l] > mx ? lanes[l] : mx;
  const simde__m512 m = simde_mm512_set1_ps(mx);
  simde__m512 sum = simde_mm512_setzero_ps();
  for (int64_t j = lo; j < hi; j += kLanes) {
    const simde__m512 e = exp16(simde_mm512_sub_ps(simde_mm512_loadu_ps(s + j), m));
    simde_mm512_storeu_ps(s + j, e);
    sum = simde_mm512_add_ps(sum, e);
  }
  simde_mm512_storeu_ps(lanes, sum);
  const float* v = lanes;
  return (((v[0] + v[8]) + (v[4] + v[12])) + ((v[2] + v[10]) + (v[6] + v[14]))) +
         (((v[1] + v[9]) + (v[5] + v[13])) + ((v[3] + v[11]) + (v[7] + v[15])));
}

// out[r][d0 .. d0 + 16 DB) = inv[r] * sum over keys j in [lo, hi) of p[r * ls + j] * v_j, each
// element one FMA chain in key order. kRagged: the last vector has only `last` columns.
template <int R, int DB, bool kRagged>
[[gnu::always_inline]] inline void value_tile(const float* p, int64_t ls, const Rows& v, int64_t lo,
                                              int64_t hi, int64_t d0, int64_t last,
                                              const float* inv, float* const* out) {
  simde__m512 acc[R][DB];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < DB; ++c) acc[r][c] = simde_mm512_setzero_ps();
  }
  // Cache block by cache block: no division per key.
  for (int64_t j = lo; j < hi;) {
    const int64_t b = j / v.block_size, off = j - b * v.block_size;
    const int64_t n = min64(v.block_size - off, hi - j);
    const float* x = v.cache + v.table[b] * v.block_stride + v.head_offset + off * v.hd + d0;
    for (int64_t o = 0; o < n; ++o, x += v.hd) {
      simde__m512 xv[DB];
#pragma GCC unroll 8
      for (int c = 0; c < DB; ++c)
        xv[c] = kRagged && c == DB - 1 ? load_cols(x + c * kLanes, last)
                                       : simde_mm512_loadu_ps(x + c * kLanes);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const simde__m512 pb = simde_mm512_set1_ps(p[r * ls + j + o]);
#pragma GCC unroll 8
        for (int c = 0; c < DB; ++c) acc[r][c] = fmadd(pb, xv[c], acc[r][c]);
      }
    }
    j += n;
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const simde__m512 s = simde_mm512_set1_ps(inv[r]);
#pragma GCC unroll 8
    for (int c = 0; c < DB; ++c) {
      store_cols(out[r] + d0 + c * kLanes, simde_mm512_mul_ps(acc[r][c], s),
                 kRagged && c == DB - 1 ? last : kLanes);
    }
  }
}

// All head_dim columns of R rows' outputs, up to wide(R) vectors of columns per pass.
template <int R>
void values(const float* p, int64_t ls, const Rows& v, int64_t lo, int64_t hi, const float* inv,
            float* const* out) {
  const int64_t full = v.hd / kLanes * kLanes, last = v.hd - full;
  constexpr int W = wide(R);
  int64_t d = 0;
  for (; d + W * kLanes <= full; d += W * kLanes)
    value_tile<R, W, false>(p, ls, v, lo, hi, d, 0, inv, out);
  if constexpr (W > 4) {
    if (d + 4 * kLanes <= full) {
      value_tile<R, 4, false>(p, ls, v, lo, hi, d, 0, inv, out);
      d += 64;
    }
  }
  if constexpr (W > 2) {
    if (d + 2 * kLanes <= full) {
      value_tile<R, 2, false>(p, ls, v, lo, hi, d, 0, inv, out);
      d += 32;
    }
  }
  if (d < full) {
    value_tile<R, 1, false>(p, ls, v, lo, hi, d, 0, inv, out);
    d += kLanes;
  }
  if (last > 0) value_tile<R, 1, true>(p, ls, v, lo, hi, d, last, inv, out);
}

// What one item shares with its row tiles.
struct Item {
  const PagedAttentionArgs* a;
  Rows keys, vals;
  int64_t head0;    // the group's first query head: kvh * group
  int64_t q_row0;   // the item's first query token, as a row of qkv and out
  int64_t pos0;     // that token's visible keys (its position + 1)
  const float* kt;  // transposed keys, [tiles][hd][16]
  float* s;         // scores, [kMaxRows][ls]
  int64_t ls;
};

// Query rows [rho0, rho0 + R) of the item (row rho: token rho / group, head rho % group).
template <int R>
void row_tile(const Item& it, int64_t rho0) {
  const PagedAttentionArgs& a = *it.a;
  const int group = a.num_heads / a.num_kv_heads;
  const int64_t hd = a.head_dim, out_ld = static_cast<int64_t>(a.num_heads) * hd;
  const float* q[R];
  float* out[R];
  int64_t first[R], visible[R];
  int64_t lo = INT64_MAX, hi = 0;
  for (int r = 0; r < R; ++r) {
    const int64_t i = (rho0 + r) / group, head = it.head0 + (rho0 + r) % group;
    q[r] = a.qkv + (it.q_row0 + i) * a.ld + head * hd;
    out[r] = a.out + (it.q_row0 + i) * out_ld + head * hd;
    visible[r] = it.pos0 + i;
    first[r] = a.window > 0 ? max64(0, visible[r] - a.window) : 0;
    lo = min64(lo, first[r]);
    hi = max64(hi, visible[r]);
  }
  const int64_t t_lo = lo / kLanes, t_hi = (hi + kLanes - 1) / kLanes;
  scores<R>(q, it.kt, t_lo, t_hi, hd, a.scale, it.s, it.ls);
  float inv[R];
  for (int r = 0; r < R; ++r) {
    inv[r] = 1.0f / softmax_row(it.s + r * it.ls, t_lo * kLanes, t_hi * kLanes, first[r],
                                visible[r], a.softcap);
  }
  values<R>(it.s, it.ls, it.vals, lo, hi, inv, out);
}

void row_tile(const Item& it, int64_t rho0, int rows) {
  switch (rows) {
    case 8:
      return row_tile<8>(it, rho0);
    case 7:
      return row_tile<7>(it, rho0);
    case 6:
      return row_tile<6>(it, rho0);
    case 5:
      return row_tile<5>(it, rho0);
    case 4:
      return row_tile<4>(it, rho0);
    case 3:
      return row_tile<3>(it, rho0);
    case 2:
      return row_tile<2>(it, rho0);
    default:
      return row_tile<1>(it, rho0);
  }
}

int64_t tiles_for(const PagedAttentionArgs& a) {
  return (a.max_seq_len + kLanes - 1) / kLanes;
}

}  // namespace

size_t paged_attention_scratch_floats(const PagedAttentionArgs& a) {
  const int64_t ls = tiles_for(a) * kLanes;
  // kt [tiles][hd][16] + scores [kMaxRows][ls] + zeros [hd]
  return static_cast<size_t>(ls * a.head_dim + kMaxRows * ls + a.head_dim);
}

void paged_attention(const PagedAttentionArgs& a, int64_t begin, int64_t end, float* scratch) {
  const int group = a.num_heads / a.num_kv_heads;
  const int64_t hd = a.head_dim;
  const int64_t chunks = (a.max_query_len + kRowsPerItem - 1) / kRowsPerItem;
  const int64_t ls = tiles_for(a) * kLanes;
  float* kt = scratch;              // [ls / 16][hd][16]
  float* s = kt + ls * hd;          // [kMaxRows][ls]
  float* zero = s + kMaxRows * ls;  // [hd]
  for (int64_t d = 0; d < hd; ++d) zero[d] = 0.f;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t chunk = item % chunks;
    const int kvh = static_cast<int>(item / chunks % a.num_kv_heads);
    const int seq = static_cast<int>(item / chunks / a.num_kv_heads);
    const int64_t q_begin = a.query_start[seq], q_len = a.query_start[seq + 1] - q_begin;
    const int64_t i0 = chunk * kRowsPerItem, i1 = min64(q_len, i0 + kRowsPerItem);
    if (i0 >= i1) continue;
    const int64_t ctx = a.seq_lens[seq];
    const int32_t* table = a.block_tables + seq * a.max_blocks_per_seq;
    const int64_t block_stride = static_cast<int64_t>(a.num_kv_heads) * a.block_size * hd;
    const int64_t head_offset = static_cast<int64_t>(kvh) * a.block_size * hd;
    Item it{&a,
            Rows{a.k_cache, table, block_stride, head_offset, a.block_size, hd},
            Rows{a.v_cache, table, block_stride, head_offset, a.block_size, hd},
            static_cast<int64_t>(kvh) * group,
            q_begin + i0,
            ctx - q_len + i0 + 1,
            kt,
            s,
            ls};
    // The i-th new token sits at position ctx - q_len + i and sees keys up to that position.
    const int64_t lo = a.window > 0 ? max64(0, it.pos0 - a.window) : 0;
    const int64_t hi = ctx - q_len + i1;
    transpose_keys(it.keys, lo / kLanes, (hi + kLanes - 1) / kLanes, hi, zero, kt);
    const int64_t rows = (i1 - i0) * group;
    for (int64_t rho = 0; rho < rows;) {
      // 8 rows at a time; 9 to 15 left go as two tiles of 5 to 8, not 8 and a small rest
      // whose tile reuses each key and value vector for fewer rows.
      const int64_t left = rows - rho;
      const int n = static_cast<int>(left >= 16 || left == 8 ? 8
                                     : left > 8              ? (left + 1) / 2
                                                             : left);
      row_tile(it, rho, n);
      rho += n;
    }
  }
}

}  // namespace llm::cpu::detail::LLM_AVX512_NS
