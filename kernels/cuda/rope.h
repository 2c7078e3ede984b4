// Host entry point of the rotary position embedding kernel.
#pragma once

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// Rotate-half RoPE in place on the first num_heads + num_kv_heads heads of each row of qkv
// ([num_tokens, ld] f32, heads of head_dim contiguous from column 0: queries then keys; the
// value heads after them are left alone). positions [num_tokens] i32; cos_sin
// [max_positions, head_dim / 2, 2] f32 holds (cos, sin) of position * theta^(-2i / head_dim).
// Rotates pairs (j, j + half) of the first 2 * half dimensions of every query and key head;
// cos_sin [max_pos, half, 2].
void rope(float* qkv, long long num_tokens, long long ld, const int* positions,
          const float* cos_sin, int num_heads, int num_kv_heads, int head_dim, int half,
          cudaStream_t stream);

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
