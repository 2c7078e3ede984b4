// The one header CUDA code includes for the CUDA runtime, cuBLAS(Lt), NCCL and the bf16/f16 types.
// A real build (nvcc, or host code linked against libcudart) gets the NVIDIA headers; an
// emulator build (LLM_SIMT defined, set by linking llm_simt) gets kernels/simt's host
// stand-ins with the same names and signatures. Include it before any other CUDA header.
#pragma once

#if defined(LLM_SIMT)
#include "kernels/simt/simt.h"
// Code compiled in both modes is linked into one binary (--backend cuda and --backend simt), so
// its symbols live in a mode-specific inline namespace: `namespace llm::cuda { inline namespace
// LLM_CUDA_ABI {` keeps the source spelling llm::cuda::f while the two builds stay distinct.
#define LLM_CUDA_ABI host_simt
#else
#include <cublas_v2.h>
// (after cublas_v2.h, which must be the first to bring cublas_api.h)
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <nccl.h>
#define LLM_CUDA_ABI device
#endif
