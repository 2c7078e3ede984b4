#include "kernels/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/paged_attention_kernels.h"
#include "kernels/cpu/vector_math.h"

namespace llm::cpu {
namespace {

constexpr int64_t kRowsPerItem = detail::kAttentionRowsPerItem;

[[gnu::always_inline]] inline void axpy(float p, const float* x, float* y, int64_t n) {
  for (int64_t d = 0; d < n; ++d) y[d] += p * x[d];
}

// Vec8 (vector_math.h): one AVX register in the avx2 clone, two SSE registers in the default one.

// The cache rows of one sequence and KV head: row j of `cache` lives in block table[j / bs].
struct KvRows {
  const float* cache;
  const int32_t* table;
  int64_t block_stride;  // floats from one block to the next: num_kv_heads * bs * hd
  int64_t head_offset;   // floats from a block's start to this KV head's rows: kvh * bs * hd
  int64_t block_size;
  int64_t head_dim;
  const float* block(int64_t b) const { return cache + table[b] * block_stride + head_offset; }
  // fn(rows, j, n) for each cache block holding rows j .. j + n - 1 of [0, visible), in order;
  // `rows` points at row j. Walking blocks, not rows, costs no division per row.
  template <class Fn>
  [[gnu::always_inline]] void for_each_block(int64_t visible, Fn&& fn) const {
    for (int64_t b = 0, j = 0; j < visible; ++b, j += block_size)
      fn(block(b), j, std::min(block_size, visible - j));
  }
};

// out[c0 .. c0 + W) = sum over j < visible of p[j] * v_j[c0 .. c0 + W), summed over j in order.
// The W / 8 accumulators stay in registers for the whole pass over the keys; each element gets
// the same chain of multiply-adds as y[d] += p * x[d] one key at a time would give it.
template <int W>
[[gnu::always_inline]] inline void weighted_values(const float* p, int64_t visible, const KvRows& v,
                                                   int64_t c0, float* out) {
  constexpr int kVecs = W / 8;
  Vec8 acc[kVecs];
#pragma GCC unroll 8
  for (int c = 0; c < kVecs; ++c) acc[c] = Vec8{};
  v.for_each_block(visible, [&](const float* rows, int64_t j, int64_t n) {
    for (int64_t o = 0; o < n; ++o) {
      const float pj = p[j + o];
      const float* x = rows + o * v.head_dim + c0;
#pragma GCC unroll 8
      for (int c = 0; c < kVecs; ++c) {
        Vec8 xv;
        std::memcpy(&xv, x + c * 8, sizeof(xv));
        acc[c] += pj * xv;
      }
    }
  });
#pragma GCC unroll 8
  for (int c = 0; c < kVecs; ++c) std::memcpy(out + c0 + c * 8, &acc[c], sizeof(Vec8));
}

// out[0 .. hd) = sum_j p[j] * v_j, in column passes of at most 64 (8 accumulators).
[[gnu::always_inline]] inline void weighted_values(const float* p, int64_t visible, const KvRows& v,
                                                   float* out) {
  const int64_t hd = v.head_dim;
  if (hd % 64 == 0) {
    for (int64_t c0 = 0; c0 < hd; c0 += 64) weighted_values<64>(p, visible, v, c0, out);
  } else if (hd % 16 == 0) {
    for (int64_t c0 = 0; c0 < hd; c0 += 16) weighted_values<16>(p, visible, v, c0, out);
  } else if (hd % 8 == 0) {
    for (int64_t c0 = 0; c0 < hd; c0 += 8) weighted_values<8>(p, visible, v, c0, out);
  } else {
    std::fill(out, out + hd, 0.f);
    v.for_each_block(visible, [&](const float* rows, int64_t j, int64_t n) {
      for (int64_t o = 0; o < n; ++o) axpy(p[j + o], rows + o * hd, out, hd);
    });
  }
}

// Scores of NG query heads (q, head_dim apart) against NK consecutive key rows (k, head_dim
// apart): scores[g * ld + t] = (q_g . k_t) * scale. Each dot product is summed in a fixed order
// (eight lane sums, the tail into the first lanes, then a fixed tree), whatever NG and NK are;
// the NG * NK dots are independent chains interleaved, so no add waits on its own previous one.
template <int NG, int NK>
[[gnu::always_inline]] inline void scores_block(const float* q, const float* k, int64_t hd,
                                                float scale, float* scores, int64_t ld) {
  Vec8 acc[NG][NK];
#pragma GCC unroll 8
  for (int g = 0; g < NG; ++g) {
#pragma GCC unroll 8
    for (int t = 0; t < NK; ++t) acc[g][t] = Vec8{};
  }
  int64_t d = 0;
  for (; d + 8 <= hd; d += 8) {
    Vec8 kv[NK];
#pragma GCC unroll 8
    for (int t = 0; t < NK; ++t) std::memcpy(&kv[t], k + t * hd + d, sizeof(Vec8));
#pragma GCC unroll 8
    for (int g = 0; g < NG; ++g) {
      Vec8 qv;
      std::memcpy(&qv, q + g * hd + d, sizeof(Vec8));
#pragma GCC unroll 8
      for (int t = 0; t < NK; ++t) acc[g][t] += qv * kv[t];
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < NG; ++g) {
#pragma GCC unroll 8
    for (int t = 0; t < NK; ++t) {
      for (int64_t e = d, lane = 0; e < hd; ++e, ++lane)
        acc[g][t][lane] += q[g * hd + e] * k[t * hd + e];
      const Vec8& v = acc[g][t];
      scores[g * ld + t] =
          (((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))) * scale;
    }
  }
}

// Scores of `group` query heads against visible keys [0, visible) of one sequence and KV head:
// scores[g * ld + j]. Heads are taken NG at a time and keys NK at a time within a cache block,
// NG * NK = 8 chains (4 for one head), so no dot waits on its own previous add.
template <int NG, int NK>
[[gnu::always_inline]] inline void scores_for(const float* q, int group, const KvRows& keys,
                                              int64_t visible, float scale, float* scores,
                                              int64_t ld) {
  const int64_t hd = keys.head_dim;
  for (int g0 = 0; g0 < group; g0 += NG) {
    const float* qg = q + g0 * hd;
    float* sg = scores + g0 * ld;
    keys.for_each_block(visible, [&](const float* rows, int64_t j, int64_t n) {
      int64_t o = 0;
      for (; o + NK <= n; o += NK)
        scores_block<NG, NK>(qg, rows + o * hd, hd, scale, sg + j + o, ld);
      for (; o < n; ++o) scores_block<NG, 1>(qg, rows + o * hd, hd, scale, sg + j + o, ld);
    });
  }
}

}  // namespace

int64_t paged_attention_items(const PagedAttentionArgs& a) {
  const int64_t chunks = (a.max_query_len + kRowsPerItem - 1) / kRowsPerItem;
  return static_cast<int64_t>(a.num_seqs) * a.num_kv_heads * chunks;
}

size_t paged_attention_scratch_floats(const PagedAttentionArgs& a) {
  // The AVX-512 kernel keeps its transposed keys there too (paged_attention_avx512.cpp).
  if (cpu_isa() == CpuIsa::kAvx512) return detail::avx512_native::paged_attention_scratch_floats(a);
  const int64_t group = a.num_heads / a.num_kv_heads;
  // scores [group, max_seq_len] + accumulators [group, head_dim]
  return static_cast<size_t>(group * (a.max_seq_len + a.head_dim));
}

namespace {

// The kernel's body, compiled once per instruction set below (it and every helper above are
// always inlined into each variant) and chosen by cpu_isa(), so --cpu-isa decides here too. The
// arithmetic is the same IEEE operations in the same order in both variants (the ISO C++ build
// never fuses a multiply and an add), so they give the same bits. AVX-512 has its own kernel
// (paged_attention_avx512.cpp), which sums in another order.
// W: the lanes of its exponentials (see vector_math.h).
template <int W>
[[gnu::always_inline]] inline void attention_items(const PagedAttentionArgs& a, int64_t begin,
                                                   int64_t end, float* scratch) {
  const int group = a.num_heads / a.num_kv_heads;
  const int64_t hd = a.head_dim;
  const int64_t chunks = (a.max_query_len + kRowsPerItem - 1) / kRowsPerItem;
  const int64_t out_ld = static_cast<int64_t>(a.num_heads) * hd;
  float* scores = scratch;                                             // [group, max_seq_len]
  float* acc = scratch + static_cast<int64_t>(group) * a.max_seq_len;  // [group, head_dim]
  for (int64_t item = begin; item < end; ++item) {
    const int64_t chunk = item % chunks;
    const int kvh = static_cast<int>(item / chunks % a.num_kv_heads);
    const int s = static_cast<int>(item / chunks / a.num_kv_heads);
    const int64_t q_begin = a.query_start[s], q_len = a.query_start[s + 1] - q_begin;
    const int64_t ctx = a.seq_lens[s];
    const int32_t* table = a.block_tables + s * a.max_blocks_per_seq;
    const int64_t block_stride = static_cast<int64_t>(a.num_kv_heads) * a.block_size * hd;
    const int64_t head_offset = static_cast<int64_t>(kvh) * a.block_size * hd;
    const KvRows keys{a.k_cache, table, block_stride, head_offset, a.block_size, hd};
    const KvRows values{a.v_cache, table, block_stride, head_offset, a.block_size, hd};
    const int64_t row_end = std::min(q_len, (chunk + 1) * kRowsPerItem);
    for (int64_t i = chunk * kRowsPerItem; i < row_end; ++i) {
      // The i-th new token sits at position ctx - q_len + i and sees keys 0..that position.
      const int64_t visible = ctx - q_len + i + 1;
      const float* q = a.qkv + (q_begin + i) * a.ld + static_cast<int64_t>(kvh) * group * hd;
      // Scores: a block of key rows is read from L1 by every query head of the group.
      if (group % 8 == 0) {
        scores_for<8, 1>(q, group, keys, visible, a.scale, scores, a.max_seq_len);
      } else if (group % 4 == 0) {
        scores_for<4, 2>(q, group, keys, visible, a.scale, scores, a.max_seq_len);
      } else if (group % 2 == 0) {
        scores_for<2, 4>(q, group, keys, visible, a.scale, scores, a.max_seq_len);
      } else {
        scores_for<1, 4>(q, group, keys, visible, a.scale, scores, a.max_seq_len);
      }
      // Softmax numerators, then each head's weighted sum of the value rows. The value rows
      // are read once per head, but from L1/L2 (a 32-row item reuses them), while the head's
      // accumulator stays in registers.
      // Keys before the window get weight exp(-inf) = 0, which adds exact zeros to the sums.
      const int64_t first = a.window > 0 ? std::max<int64_t>(0, visible - a.window) : 0;
      for (int g = 0; g < group; ++g) {
        float* sg = scores + static_cast<int64_t>(g) * a.max_seq_len;
        if (a.softcap > 0) {
          for (int64_t j = first; j < visible; ++j) sg[j] = a.softcap * std::tanh(sg[j] / a.softcap);
        }
        for (int64_t j = 0; j < first; ++j) sg[j] = -INFINITY;
        const float max_score = *std::max_element(sg, sg + visible);
        for (int64_t j = 0; j < visible; ++j) sg[j] -= max_score;
        exp_inplace<W>(sg, visible);
        weighted_values(sg, visible, values, acc + g * hd);
      }
      for (int g = 0; g < group; ++g) {
        const float* sg = scores + static_cast<int64_t>(g) * a.max_seq_len;
        float denom = 0.f;
        for (int64_t j = 0; j < visible; ++j) denom += sg[j];
        const float inv = 1.0f / denom;
        float* o = a.out + (q_begin + i) * out_ld + (static_cast<int64_t>(kvh) * group + g) * hd;
        for (int64_t d = 0; d < hd; ++d) o[d] = acc[g * hd + d] * inv;
      }
    }
  }
}

__attribute__((target("avx2,fma"))) void attention_avx2(const PagedAttentionArgs& a, int64_t begin,
                                                        int64_t end, float* scratch) {
  attention_items<8>(a, begin, end, scratch);
}
void attention_portable(const PagedAttentionArgs& a, int64_t begin, int64_t end, float* scratch) {
  attention_items<4>(a, begin, end, scratch);
}

}  // namespace

void paged_attention(const PagedAttentionArgs& a, int64_t begin, int64_t end, float* scratch) {
  switch (cpu_isa()) {
    case CpuIsa::kAvx512:
      return detail::avx512_native::paged_attention(a, begin, end, scratch);
    case CpuIsa::kAvx2:
      return attention_avx2(a, begin, end, scratch);
    case CpuIsa::kPortable:
      break;
  }
  attention_portable(a, begin, end, scratch);
}

const char* paged_attention_kernel_name() {
  switch (cpu_isa()) {
    case CpuIsa::kAvx512:
      return "avx512 (f32, 16 keys a vector)";
    case CpuIsa::kAvx2:
      return "avx2 build (f32, 8-wide)";
    case CpuIsa::kPortable:
      break;
  }
  return "portable (f32)";
}

}  // namespace llm::cpu
