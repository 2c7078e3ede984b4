// Host entry points of the RMSNorm kernels (device pointers, asynchronous on `stream`).
#pragma once

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// out[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * weight; x [rows, dim] f32, weight [dim]
// f32, out [rows, dim] of out_type (CUDA_R_32F, CUDA_R_16BF or CUDA_R_16F: the product is
// rounded once, as it is stored).
void rmsnorm(const float* x, const float* weight, long long rows, long long dim, float eps,
             void* out, cudaDataType out_type, cudaStream_t stream);

// residual += delta, then out = rmsnorm(residual) * weight, in one pass over the row.
// residual, delta [rows, dim] f32 (the residual stream stays f32); weight [dim] f32; out
// [rows, dim] of out_type.
void add_rmsnorm(float* residual, const float* delta, const float* weight, long long rows,
                 long long dim, float eps, void* out, cudaDataType out_type, cudaStream_t stream);

// In place on qkv [tokens, row_heads * head_dim] of qkv_type: rmsnorm of heads [0, num_q) of
// each row with q_weight [head_dim] f32, of heads [num_q, num_q + num_k) with k_weight.
void qk_norm(void* qkv, cudaDataType qkv_type, const float* q_weight, const float* k_weight,
             long long tokens, int row_heads, int num_q, int num_k, long long head_dim, float eps,
             cudaStream_t stream);

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
