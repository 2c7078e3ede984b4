// Host entry points of the elementwise CUDA kernels (device pointers, asynchronous on `stream`).
#pragma once

#include <cuda_runtime.h>

namespace llm::cuda {

void silu_mul(const float* gate_up, long long num_tokens, long long F, float* out,
              cudaStream_t stream);

}  // namespace llm::cuda
