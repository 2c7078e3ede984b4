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
//   LLM_SHARED(float, scratch, 32);
//     = `__shared__ float scratch[32]`, a block's static shared array. In the emulator it is
//     carved from the block's static shared memory, poisoned (0xFF) when the block first asks
//     for it, and counted toward the 48 KB a block's static shared memory may use. (Plain
//     `__shared__` does not compile in emulator builds: it could not be poisoned per block.)
#pragma once

#include "kernels/cuda/cuda_api.h"

#if defined(LLM_SIMT)
#define LLM_LAUNCH(kernel, grid, block, shared_bytes, stream, ...) \
  ::llm::simt::launch((kernel), (grid), (block), (shared_bytes), (stream), __VA_ARGS__)
#define LLM_DYNAMIC_SHARED(T, name) \
  T* const name = static_cast<T*>(::llm::simt::dynamic_shared_memory())
#define LLM_SHARED(T, name, n)                                                       \
  T* const name = static_cast<T*>(                                                   \
      ::llm::simt::static_shared_memory(::llm::simt::SharedSite{__FILE__, __LINE__}, \
                                        sizeof(T) * static_cast<std::size_t>(n), alignof(T)))
#elif defined(__CUDACC__)
#define LLM_LAUNCH(kernel, grid, block, shared_bytes, stream, ...) \
  kernel<<<(grid), (block), (shared_bytes), (stream)>>>(__VA_ARGS__)
#define LLM_DYNAMIC_SHARED(T, name)                                       \
  extern __shared__ __align__(16) unsigned char llm_dynamic_shared_raw[]; \
  T* const name = reinterpret_cast<T*>(llm_dynamic_shared_raw)
#define LLM_SHARED(T, name, n) __shared__ T name[n]
#endif  // host code compiled for real CUDA launches nothing itself
