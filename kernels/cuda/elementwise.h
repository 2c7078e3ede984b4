// Host entry points of the elementwise CUDA kernels (device pointers, asynchronous on `stream`).
// 16-bit storage types are named by cudaDataType: CUDA_R_32F, CUDA_R_16BF or CUDA_R_16F.
#pragma once

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// out[t, f] = silu(gate_up[t, f]) * gate_up[t, F + f]; gate_up [num_tokens, 2F] and out
// [num_tokens, F] of `type` (f32 arithmetic, one rounding as the product is stored).
void silu_mul(const void* gate_up, long long num_tokens, long long F, void* out, cudaDataType type,
              cudaStream_t stream);

// out[t, f] = gelu_tanh(gate_up[t, f]) * gate_up[t, F + f]; shapes and types as silu_mul.
void gelu_tanh_mul(const void* gate_up, long long num_tokens, long long F, void* out,
                   cudaDataType type, cudaStream_t stream);
// x[i] = x[i] * c for i < n.
void scale(float* x, long long n, float c, cudaStream_t stream);
// x[i] = cap * tanh(x[i] / cap) for i < n.
void softcap(float* x, long long n, float cap, cudaStream_t stream);

// x[t, n] += bias[n]; x [num_tokens, N] of `type`, bias [N] f32.
void add_bias(void* x, cudaDataType type, const float* bias, long long num_tokens, long long N,
              cudaStream_t stream);

// out[i] = in[i] converted from in_type to out_type (in, out [n]): activations of one type handed
// to a GEMM whose weights are of another.
void convert(const void* in, cudaDataType in_type, long long n, void* out, cudaDataType out_type,
             cudaStream_t stream);

// out[t, :] = table[ids[t], :]; table [rows, dim] of `type`, ids [num_ids] i32, out [num_ids,
// dim] of out_type (rounded when narrower than the table).
void embedding(const void* table, cudaDataType type, const int* ids, long long num_ids,
               long long dim, void* out, cudaDataType out_type, cudaStream_t stream);

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
