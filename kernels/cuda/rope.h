// Host entry point of the rotary position embedding kernel.
#pragma once

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// Rotate-half RoPE in place on the first num_heads + num_kv_heads heads of each row of qkv
// ([num_tokens, ld] of qkv_type, heads of head_dim contiguous from column 0: queries then keys; the
// value heads after them are left alone). positions [num_tokens] i32; cos_sin
// [max_positions, head_dim / 2, 2] f32 holds (cos, sin) of position * theta^(-2i / head_dim).
// Rotates pairs (j, j + half) of the first 2 * half dimensions of every query and key head;
// cos_sin [max_pos, half, 2].
void rope(void* qkv, cudaDataType qkv_type, long long num_tokens, long long ld,
          const int* positions, const float* cos_sin, int num_heads, int num_kv_heads, int head_dim,
          int half, cudaStream_t stream);

// rope() and then kv_write() (kv_cache.h) in one pass: each thread rotates its pair of a query or
// key head in place, and stores a key head's rotated pair, or a value head's elements, into the
// paged cache at slot_mapping[t] (rows with a negative slot are only rotated). The rotated keys
// are also left in qkv, so the result is exactly that of the two kernels.
void rope_kv_write(void* qkv, cudaDataType qkv_type, long long num_tokens, long long ld,
                   const int* positions, const float* cos_sin, const int* slot_mapping,
                   int num_heads, int num_kv_heads, int head_dim, int half, int block_size,
                   void* k_cache, void* v_cache, cudaDataType cache_type, cudaStream_t stream);

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
