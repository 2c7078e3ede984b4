// Host entry points of the RMSNorm kernels (device pointers, asynchronous on `stream`).
#pragma once

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// out[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * weight; x, out [rows, dim] f32, weight [dim].
void rmsnorm(const float* x, const float* weight, long long rows, long long dim, float eps,
             float* out, cudaStream_t stream);

// residual += delta, then out = rmsnorm(residual) * weight, in one pass over the row.
// residual, delta, out [rows, dim] f32; weight [dim] f32.
void add_rmsnorm(float* residual, const float* delta, const float* weight, long long rows,
                 long long dim, float eps, float* out, cudaStream_t stream);

// In place on qkv [tokens, row_heads * head_dim]: rmsnorm of heads [0, num_q) of each row with
// q_weight [head_dim], of heads [num_q, num_q + num_k) with k_weight.
void qk_norm(float* qkv, const float* q_weight, const float* k_weight, long long tokens,
             int row_heads, int num_q, int num_k, long long head_dim, float eps,
             cudaStream_t stream);

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
