// The host SIMT emulator's view of CUDA: what kernels/cuda/cuda_api.h includes when LLM_SIMT is
// defined, so the same .cu sources compile with g++ and run on the host (see DESIGN.md, "CUDA
// code paths run in CI"). Include kernels/cuda/cuda_api.h rather than this file.
#pragma once

#if defined(__CUDACC__)
#error "kernels/simt is the host emulator; nvcc builds use the real CUDA headers"
#endif
// The CUDA headers define __shared__ as an ignored attribute under g++ unless it is already
// defined, which would silently turn a block's shared array into a per-thread local. The
// qualifiers below must therefore be seen first.
#if defined(__HOST_DEFINES_H__)
#error "a CUDA header was included before kernels/cuda/cuda_api.h; include cuda_api.h first"
#endif

// Kernels and device functions are ordinary host functions here.
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __launch_bounds__(...)
// Static shared arrays are declared with LLM_SHARED (kernels/cuda/launch.h), which the emulator
// poisons per block and counts against the 48 KB limit; a plain __shared__ declaration would be
// a variable the emulator cannot see, so it does not compile here.
#define __shared__ static_assert(false, "declare static shared memory with LLM_SHARED (launch.h)");

// The order matters (names.h before the CUDA headers, which then declare the renamed
// functions), so clang-format must not sort these.
// clang-format off
#include "kernels/simt/names.h"
#include <cublas_v2.h>  // also brings cuda_fp16.h, cuda_bf16.h, driver_types.h, library_types.h
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include "kernels/simt/device_functions.h"
#include "kernels/simt/execution.h"
#include "kernels/simt/nccl.h"
#include "kernels/simt/runtime.h"
#include "kernels/simt/tensor_core.h"
// clang-format on
