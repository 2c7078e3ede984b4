// Device helpers shared by the CUDA kernels: element conversions to and from f32, and warp- and
// block-wide reductions. Compiled by nvcc and by the host compiler against kernels/simt.
#pragma once

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// Storage types the kernels read and write; arithmetic is always f32.
__device__ inline float to_f32(float v) {
  return v;
}
__device__ inline float to_f32(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
__device__ inline float to_f32(__half v) {
  return __half2float(v);
}

template <typename T>
__device__ inline T from_f32(float v);
template <>
__device__ inline float from_f32<float>(float v) {
  return v;
}
template <>
__device__ inline __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16(v);  // round to nearest even, as the host reference does
}
template <>
__device__ inline __half from_f32<__half>(float v) {
  return __float2half(v);
}

// An activation element of a type known only at run time (cudaDataType: CUDA_R_32F, CUDA_R_16BF
// or CUDA_R_16F). For kernels that touch activations once per element they produce, such as
// attention's query load and output store: a uniform branch there costs nothing, where a
// template parameter would multiply the instantiations of a large kernel.
__device__ inline float load_as(const void* base, long long i, cudaDataType type) {
  if (type == CUDA_R_16BF) return to_f32(static_cast<const __nv_bfloat16*>(base)[i]);
  if (type == CUDA_R_16F) return to_f32(static_cast<const __half*>(base)[i]);
  return static_cast<const float*>(base)[i];
}
__device__ inline void store_as(void* base, long long i, cudaDataType type, float v) {
  if (type == CUDA_R_16BF) {
    static_cast<__nv_bfloat16*>(base)[i] = from_f32<__nv_bfloat16>(v);
  } else if (type == CUDA_R_16F) {
    static_cast<__half*>(base)[i] = from_f32<__half>(v);
  } else {
    static_cast<float*>(base)[i] = v;
  }
}

// Host side: calls f(T{}) with T the storage type `type` names (float for CUDA_R_32F), so one
// generic lambda launches a kernel template for whichever type the tensor has.
template <class F>
inline void with_storage_type(cudaDataType type, F&& f) {
  if (type == CUDA_R_16BF) {
    f(__nv_bfloat16{});
  } else if (type == CUDA_R_16F) {
    f(__half{});
  } else {
    f(float{});
  }
}

constexpr unsigned kFullMask = 0xffffffffu;

// Before a loop over a register array: nvcc unrolls it fully, so every index is a constant and
// the array stays in registers (a dynamically indexed array lives in local memory). Loops with
// a runtime trip count are written with the array's constant bound and a `break`.
#if defined(__CUDACC__)
#define LLM_UNROLL _Pragma("unroll")
#else
#define LLM_UNROLL
#endif

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// Block-wide sum (kMax = false) or max (kMax = true) that every thread receives. blockDim.x must
// be a multiple of 32; `scratch` is >= 32 floats of shared memory. The leading barrier lets a
// block call this twice in a row with the same scratch.
template <bool kMax>
__device__ inline float block_reduce(float v, float* scratch) {
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = kMax ? warp_max(v) : warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const float identity = kMax ? -INFINITY : 0.0f;
  v = lane < warps ? scratch[lane] : identity;
  return kMax ? warp_max(v) : warp_sum(v);
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
