// Host entry points of the elementwise CUDA kernels (device pointers, asynchronous on `stream`).
#pragma once

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

void silu_mul(const float* gate_up, long long num_tokens, long long F, float* out,
              cudaStream_t stream);

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
