// The emulator's one GEMM, behind cublasGemmEx, cublasGemmStridedBatchedEx, cublasSgemm and
// cublasLtMatmul: D = alpha * op(A) op(B) + beta * C, column-major, validated as the cuBLAS
// documentation states, with double accumulation so that a caller's indexing mistake shows as a
// failing status or wrong numbers, never as silently right ones.
#pragma once

#include "kernels/cuda/cuda_api.h"

namespace llm::simt {

struct Gemm {
  cublasOperation_t transa, transb;
  int m, n, k;
  const void* alpha;  // f32, host memory
  const void* A;
  cudaDataType Atype;
  int lda;
  long long strideA;
  const void* B;
  cudaDataType Btype;
  int ldb;
  long long strideB;
  const void* beta;  // f32; when zero C is not read (it may hold NaN or garbage)
  const void* C;
  cudaDataType Ctype;  // C's and D's
  int ldc;
  long long strideC;
  void* D;  // C itself for the cublas API (in place)
  int ldd;
  long long strideD;
  int batch;
  cublasComputeType_t compute;
};

// Runs `g` on `stream` (recorded into the graph instead when the stream is capturing, the
// scalars read now as cuBLAS reads host scalars). CUBLAS_STATUS_INVALID_VALUE for bad sizes and
// leading dimensions, CUBLAS_STATUS_NOT_SUPPORTED for a type combination cuBLAS lacks.
cublasStatus_t run_gemm(cudaStream_t stream, const Gemm& g);

}  // namespace llm::simt
