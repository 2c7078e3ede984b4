// Turning CUDA runtime, cuBLAS and NCCL statuses into llm::Error for the CUDA backend's files.
#pragma once

#include <string>

#include "kernels/cuda/cuda_api.h"
#include "llm/error.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

inline void check(cudaError_t err, const std::string& what) {
  if (err == cudaSuccess) return;
  const ErrorCode code =
      err == cudaErrorMemoryAllocation ? ErrorCode::kResourceExhausted : ErrorCode::kInternal;
  throw Error(code, "cuda backend: " + what + ": " + cudaGetErrorString(err));
}

inline void check(cublasStatus_t st, const std::string& what) {
  if (st != CUBLAS_STATUS_SUCCESS) {
    throw Error(ErrorCode::kInternal, "cuda backend: " + what + ": " + cublasGetStatusString(st));
  }
}

inline void check(ncclResult_t r, const std::string& what) {
  if (r != ncclSuccess) {
    throw Error(ErrorCode::kUnavailable, "cuda backend: " + what + ": " + ncclGetErrorString(r));
  }
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
