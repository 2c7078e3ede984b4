// Kernel launches and dynamic shared memory, spelled so both nvcc and the host emulator accept
// them (the only per-mode differences the CUDA sources need, besides cuda_api.h).
//
//   LLM_LAUNCH(kernel, grid, block, shared_bytes, stream, args...);
//     = kernel<<<grid, block, shared_bytes, stream>>>(args...). Errors surface through
//     cudaGetLastError() as with <<<>>>. For a template kernel with several template arguments,
//     bind it first (`auto* k = &my_kernel<128, float>;`) since the macro splits on commas.
//   LLM_DYNAMIC_SHARED(float, smem);
//     = `extern __shared__ float smem[]` in spirit: `smem` points to the launch's dynamic shared
//     memory (16-byte aligned). Use it once per kernel and carve sub-arrays from it.
#pragma once

#include "kernels/cuda/cuda_api.h"

#if defined(LLM_SIMT)
#define LLM_LAUNCH(kernel, grid, block, shared_bytes, stream, ...) \
  ::llm::simt::launch((kernel), (grid), (block), (shared_bytes), (stream), __VA_ARGS__)
#define LLM_DYNAMIC_SHARED(T, name) \
  T* const name = static_cast<T*>(::llm::simt::dynamic_shared_memory())
#elif defined(__CUDACC__)
#define LLM_LAUNCH(kernel, grid, block, shared_bytes, stream, ...) \
  kernel<<<(grid), (block), (shared_bytes), (stream)>>>(__VA_ARGS__)
#define LLM_DYNAMIC_SHARED(T, name)                                       \
  extern __shared__ __align__(16) unsigned char llm_dynamic_shared_raw[]; \
  T* const name = reinterpret_cast<T*>(llm_dynamic_shared_raw)
#endif  // host code compiled for real CUDA launches nothing itself
