#include "kernels/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>

namespace llm::cpu {
namespace {

// Query rows per work item: enough work per item to amortise its set-up, small enough that a
// long prompt of one sequence still spreads over every core.
constexpr int64_t kRowsPerItem = 32;

// Written so the compiler turns them into vector code for each clone below: eight partial sums
// (one register) in a fixed order.
[[gnu::always_inline]] inline float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[k + j] * b[k + j];
  }
  for (int j = 0; k < n; ++k, ++j) acc[j] += a[k] * b[k];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

[[gnu::always_inline]] inline void axpy(float p, const float* x, float* y, int64_t n) {
  for (int64_t d = 0; d < n; ++d) y[d] += p * x[d];
}

}  // namespace

int64_t paged_attention_items(const PagedAttentionArgs& a) {
  const int64_t chunks = (a.max_query_len + kRowsPerItem - 1) / kRowsPerItem;
  return static_cast<int64_t>(a.num_seqs) * a.num_kv_heads * chunks;
}

size_t paged_attention_scratch_floats(const PagedAttentionArgs& a) {
  const int64_t group = a.num_heads / a.num_kv_heads;
  // scores [group, max_seq_len] + accumulators [group, head_dim]
  return static_cast<size_t>(group * (a.max_seq_len + a.head_dim));
}

// One clone per instruction set, picked at load time (ifunc): the same source, vectorised for
// AVX2 where the processor has it. Not under ThreadSanitizer: the ifunc resolver runs before the
// TSan runtime is up, and its instrumented entry crashes the program at load.
#if defined(__SANITIZE_THREAD__)
#define LLM_ATTENTION_CLONES
#else
#define LLM_ATTENTION_CLONES __attribute__((target_clones("avx2", "default")))
#endif
LLM_ATTENTION_CLONES void paged_attention(const PagedAttentionArgs& a, int64_t begin, int64_t end,
                                          float* scratch) {
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
    const int64_t row_end = std::min(q_len, (chunk + 1) * kRowsPerItem);
    for (int64_t i = chunk * kRowsPerItem; i < row_end; ++i) {
      // The i-th new token sits at position ctx - q_len + i and sees keys 0..that position.
      const int64_t visible = ctx - q_len + i + 1;
      const float* q = a.qkv + (q_begin + i) * a.ld + static_cast<int64_t>(kvh) * group * hd;
      // Scores: each key row is loaded once and used by every query head of the group.
      for (int64_t j = 0; j < visible; ++j) {
        const int64_t block = table[j / a.block_size], off = j % a.block_size;
        const float* k = a.k_cache + ((block * a.num_kv_heads + kvh) * a.block_size + off) * hd;
        for (int g = 0; g < group; ++g)
          scores[g * a.max_seq_len + j] = dot(q + g * hd, k, hd) * a.scale;
      }
      for (int g = 0; g < group; ++g) {
        float* sg = scores + static_cast<int64_t>(g) * a.max_seq_len;
        const float max_score = *std::max_element(sg, sg + visible);
        for (int64_t j = 0; j < visible; ++j) sg[j] = std::exp(sg[j] - max_score);
        std::fill(acc + g * hd, acc + (g + 1) * hd, 0.f);
      }
      for (int64_t j = 0; j < visible; ++j) {
        const int64_t block = table[j / a.block_size], off = j % a.block_size;
        const float* v = a.v_cache + ((block * a.num_kv_heads + kvh) * a.block_size + off) * hd;
        for (int g = 0; g < group; ++g) axpy(scores[g * a.max_seq_len + j], v, acc + g * hd, hd);
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

}  // namespace llm::cpu
