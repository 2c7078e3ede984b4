// cuBLAS on the host: handles and the GEMM entry points, which validate and compute through
// gemm.h's run_gemm (cuBLAS's exact column-major contract).
#include <algorithm>
#include <memory>
#include <mutex>
#include <set>

#include "kernels/cuda/cuda_api.h"
#include "kernels/simt/gemm.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_HOST;
  cublasMath_t math_mode = CUBLAS_DEFAULT_MATH;
};

namespace {

std::mutex g_mu;
std::set<std::unique_ptr<cublasContext>>& handles() {
  static std::set<std::unique_ptr<cublasContext>> h;
  return h;
}

bool valid_handle(cublasHandle_t handle) {
  std::lock_guard lock(g_mu);
  return std::any_of(handles().begin(), handles().end(),
                     [handle](const auto& u) { return u.get() == handle; });
}

}  // namespace

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  auto owned = std::make_unique<cublasContext>();
  *handle = owned.get();
  std::lock_guard lock(g_mu);
  handles().insert(std::move(owned));
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  std::lock_guard lock(g_mu);
  const auto it = std::find_if(handles().begin(), handles().end(),
                               [handle](const auto& u) { return u.get() == handle; });
  if (it == handles().end()) return CUBLAS_STATUS_NOT_INITIALIZED;
  handles().erase(it);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t* stream) {
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (stream == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode) {
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->pointer_mode = mode;  // device memory is host memory here: both modes read alike
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void*, size_t) {
  return valid_handle(handle) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    default:
      return "CUBLAS_STATUS_UNKNOWN";
  }
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t /*algo*/) {
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  return llm::simt::run_gemm(
      handle->stream, {transa, transb, m,    n, k,     alpha, A, Atype, lda, 0, B, Btype,
                       ldb,    0,      beta, C, Ctype, ldc,   0, C,     ldc, 0, 1, computeType});
}

cublasStatus_t cublasGemmStridedBatchedEx(
    cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
    const void* alpha, const void* A, cudaDataType Atype, int lda, long long strideA, const void* B,
    cudaDataType Btype, int ldb, long long strideB, const void* beta, void* C, cudaDataType Ctype,
    int ldc, long long strideC, int batchCount, cublasComputeType_t computeType,
    cublasGemmAlgo_t /*algo*/) {
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  return llm::simt::run_gemm(
      handle->stream, {transa, transb,  m,       n,     k,   alpha,   A,          Atype,
                       lda,    strideA, B,       Btype, ldb, strideB, beta,       C,
                       Ctype,  ldc,     strideC, C,     ldc, strideC, batchCount, computeType});
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k, const float* alpha,
                              const float* A, int lda, const float* B, int ldb, const float* beta,
                              float* C, int ldc) {
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  return llm::simt::run_gemm(
      handle->stream,
      {transa, transb, m,    n, k,          alpha, A, CUDA_R_32F, lda, 0, B, CUDA_R_32F,
       ldb,    0,      beta, C, CUDA_R_32F, ldc,   0, C,          ldc, 0, 1, CUBLAS_COMPUTE_32F});
}
