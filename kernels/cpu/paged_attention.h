// Causal attention of new query tokens over the paged KV cache (prefill, chunked prefill and
// decode alike), f32. See Backend::attention for the layouts.
//
// Work is cut into items of (sequence, KV head, chunk of query rows); the query heads of a GQA
// group are done together, so each key and value row is read once for the whole group. A row's
// result depends only on its own sequence and position, never on the item cut, the batch or the
// chunking of its prompt over steps. The AVX2 and portable builds give the same bits; the AVX-512
// kernel (paged_attention_avx512.cpp) sums in another order and agrees with them to rounding.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llm::cpu {

struct PagedAttentionArgs {
  const float* qkv;  // [T, ld]: query heads start at column 0
  int64_t ld;
  const float* k_cache;         // [num_blocks, num_kv_heads, block_size, head_dim]
  const float* v_cache;         // same
  const int32_t* query_start;   // [num_seqs + 1]
  const int32_t* seq_lens;      // [num_seqs]: context length after this step's write
  const int32_t* block_tables;  // [num_seqs, max_blocks_per_seq]
  int64_t max_blocks_per_seq;
  int num_seqs;
  int max_query_len;
  int max_seq_len;
  int num_heads;
  int num_kv_heads;
  int head_dim;
  int block_size;
  float scale;
  int window;     // > 0: keys (p - window, p] only (AttentionShape::window)
  float softcap;  // > 0: scores capped by softcap * tanh(score / softcap)
  float* out;     // [T, num_heads * head_dim]
};

// Number of work items for a batch (some may be empty).
int64_t paged_attention_items(const PagedAttentionArgs& a);
// Floats of scratch one worker needs, for the ISA in use (the AVX-512 kernel keeps the item's
// keys transposed there: about max_seq_len * head_dim floats).
size_t paged_attention_scratch_floats(const PagedAttentionArgs& a);
// Runs items [begin, end) with `scratch` private to the calling thread, compiled for the ISA in
// use (cpu_isa()).
void paged_attention(const PagedAttentionArgs& a, int64_t begin, int64_t end, float* scratch);
// Which build of it runs now, for reports.
const char* paged_attention_kernel_name();

}  // namespace llm::cpu
