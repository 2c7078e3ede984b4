// Host entry points of paged attention: decode (one new token per sequence, split along the
// context for long ones as vLLM's paged attention v2) and prefill / chunked prefill (several new
// tokens, causal, FlashAttention-style tiles with an online softmax). f32 accumulation.
#pragma once

#include <cstddef>

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// One step's attention over the paged cache. All pointers are device memory.
struct PagedAttentionParams {
  const void* qkv = nullptr;  // [num_tokens, ld] of act_type; query head h at [h*hd, (h+1)*hd)
  long long ld = 0;
  // The activations' type, qkv's and out's: CUDA_R_32F, or a 16-bit type (then the cache's).
  cudaDataType act_type = CUDA_R_32F;
  const void* k_cache = nullptr;  // [num_blocks, num_kv_heads, block_size, head_dim]
  const void* v_cache = nullptr;  //   of cache_type, already holding this step's tokens
  cudaDataType cache_type = CUDA_R_32F;
  const int* query_start = nullptr;   // [num_seqs + 1]: rows of each sequence's new tokens
  const int* seq_lens = nullptr;      // [num_seqs]: context length after this step
  const int* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq]: physical block ids
  int max_blocks_per_seq = 0;
  int num_seqs = 0;
  int max_seq_len = 0;
  int max_query_len = 0;
  int num_heads = 0;
  int num_kv_heads = 0;  // query head h reads kv head h / (num_heads / num_kv_heads)
  int head_dim = 0;      // even, at most kMaxHeadDim
  int block_size = 0;
  float scale = 0.0f;
  int window = 0;        // > 0: keys (p - window, p] only (AttentionShape::window)
  float softcap = 0.0f;  // > 0: scores capped by softcap * tanh(score / softcap)
  void* out = nullptr;   // [num_tokens, num_heads * head_dim] of act_type
};

inline constexpr int kMaxHeadDim = 256;

// Number of context partitions the decode kernel splits the longest sequence into.
inline int decode_partitions(int max_seq_len, int partition_tokens) {
  return (max_seq_len + partition_tokens - 1) / partition_tokens;
}

// Bytes of device scratch decode_attention needs: zero when one partition covers every context
// (the single-pass kernel writes `out` directly); else per (sequence, head, partition) a
// normalised partial output [head_dim] plus its max and sum.
std::size_t decode_attention_workspace_bytes(int num_seqs, int num_heads, int head_dim,
                                             int max_seq_len, int partition_tokens);

// Writes the rows of the sequences with exactly one new token; other rows are left alone.
// partition_tokens: context tokens per block of the split pass (a multiple of 32, >= 32).
// workspace: decode_attention_workspace_bytes(...) bytes (may be null when that is zero).
void decode_attention(const PagedAttentionParams& p, int partition_tokens, float* workspace,
                      cudaStream_t stream);

// Writes the rows of the sequences with more than one new token; other rows are left alone.
// 16-bit caches with head_dim 64/80/96/128/256 run on tensor cores (Q and P rounded to the
// cache type, f32 accumulation), everything else on the scalar f32 kernel.
void prefill_attention(const PagedAttentionParams& p, cudaStream_t stream);

// The tensor-core kernel alone (prefill_attention_mma.cu): false, launching nothing, for a cache
// type or head size it does not handle.
bool prefill_attention_tensor_cores(const PagedAttentionParams& p, cudaStream_t stream);

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
