// CudaGemm: the CUDA backend's float GEMMs on row-major tensors, out (+)= x . w^T, through
// cuBLASLt with the algorithm its heuristic picks once per problem shape (cublasGemmEx for a
// shape cuBLASLt offers none for). Compiled for the device and for the emulator, as
// cuda_backend.cpp is.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

class CudaGemm {
 public:
  // `cublas` (for the fallback) and the stream stay the caller's; `workspace` is device memory
  // both libraries may use, the calls being ordered on the one stream. Creates the cuBLASLt
  // handle (host objects only: no device allocation, so graph captures may follow).
  CudaGemm(cublasHandle_t cublas, cudaStream_t stream, void* workspace, size_t workspace_bytes);
  ~CudaGemm();
  CudaGemm(const CudaGemm&) = delete;
  CudaGemm& operator=(const CudaGemm&) = delete;

  // out [T, N] (=, or += with accumulate) x [T, K] . w [N, K]^T; x and w of `type` (f32, bf16 or
  // f16), out of out_type (f32, or `type`); f32 compute. The first status that is not success.
  cublasStatus_t run(const void* x, const void* w, void* out, int64_t T, int64_t N, int64_t K,
                     cudaDataType type, cudaDataType out_type, bool accumulate);

 private:
  // One shape's descriptors and chosen algorithm, destroyed with it.
  struct Plan {
    Plan() = default;
    Plan(const Plan&) = delete;
    Plan& operator=(const Plan&) = delete;
    ~Plan();
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t w = nullptr, x = nullptr, out = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool has_algo = false;  // false: cuBLASLt offered none; the GEMM goes to cublasGemmEx
  };
  // Fills `p` for the shape: the column-major view of the row-major problem.
  cublasStatus_t make_plan(Plan& p, int64_t T, int64_t N, int64_t K, cudaDataType type,
                           cudaDataType out_type);

  cublasHandle_t cublas_;
  cudaStream_t stream_;
  void* workspace_;
  size_t workspace_bytes_;
  cublasLtHandle_t lt_ = nullptr;
  cublasStatus_t create_status_;  // cublasLtCreate's: run() reports a failed one
  // By (T, N, K, type, output type): one per step size that ran, kept for the backend's life.
  std::map<std::tuple<int64_t, int64_t, int64_t, int, int>, Plan> plans_;
};

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
