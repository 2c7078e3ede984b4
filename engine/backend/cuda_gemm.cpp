#include "engine/backend/cuda_gemm.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

CudaGemm::CudaGemm(cublasHandle_t cublas, cudaStream_t stream, void* workspace,
                   size_t workspace_bytes)
    : cublas_(cublas),
      stream_(stream),
      workspace_(workspace),
      workspace_bytes_(workspace_bytes),
      create_status_(cublasLtCreate(&lt_)) {}

CudaGemm::~CudaGemm() {
  plans_.clear();  // their descriptors before the handle
  if (create_status_ == CUBLAS_STATUS_SUCCESS) cublasLtDestroy(lt_);
}

CudaGemm::Plan::~Plan() {
  if (desc != nullptr) cublasLtMatmulDescDestroy(desc);
  for (cublasLtMatrixLayout_t l : {w, x, out}) {
    if (l != nullptr) cublasLtMatrixLayoutDestroy(l);
  }
}

// cuBLAS is column-major: row-major out [T, N] is the column-major N x T matrix (ld N), and
// out^T = w . x^T where row-major w [N, K] is the column-major K x N matrix, transposed (ld K),
// and row-major x [T, K] the column-major K x T one (ld K). C = D = out (in place: accumulate).
cublasStatus_t CudaGemm::make_plan(Plan& p, int64_t T, int64_t N, int64_t K, cudaDataType type,
                                   cudaDataType out_type) {
  cublasStatus_t st = cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  const int32_t trans = CUBLAS_OP_T;
  if (st == CUBLAS_STATUS_SUCCESS) {
    st = cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans, sizeof trans);
  }
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatrixLayoutCreate(&p.w, type, u(K), u(N), K);
  if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatrixLayoutCreate(&p.x, type, u(K), u(T), K);
  if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatrixLayoutCreate(&p.out, out_type, u(N), u(T), N);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  cublasLtMatmulPreference_t pref = nullptr;
  st = cublasLtMatmulPreferenceCreate(&pref);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  const uint64_t workspace = workspace_bytes_;
  st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                            &workspace, sizeof workspace);
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  // A problem with no algorithm is not an error here: the GEMM falls back to cublasGemmEx.
  const bool offered = st == CUBLAS_STATUS_SUCCESS &&
                       cublasLtMatmulAlgoGetHeuristic(lt_, p.desc, p.w, p.x, p.out, p.out, pref, 1,
                                                      &result, &found) == CUBLAS_STATUS_SUCCESS &&
                       found > 0;
  cublasLtMatmulPreferenceDestroy(pref);
  p.has_algo = offered;
  if (offered) p.algo = result.algo;
  return st;
}

cublasStatus_t CudaGemm::run(const void* x, const void* w, void* out, int64_t T, int64_t N,
                             int64_t K, cudaDataType type, cudaDataType out_type, bool accumulate) {
  if (create_status_ != CUBLAS_STATUS_SUCCESS) return create_status_;
  const auto key = std::make_tuple(T, N, K, static_cast<int>(type), static_cast<int>(out_type));
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    it = plans_.try_emplace(key).first;
    if (const cublasStatus_t st = make_plan(it->second, T, N, K, type, out_type);
        st != CUBLAS_STATUS_SUCCESS) {
      plans_.erase(it);
      return st;
    }
  }
  const Plan& p = it->second;
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  if (p.has_algo) {
    return cublasLtMatmul(lt_, p.desc, &alpha, w, p.w, x, p.x, &beta, out, p.out, out, p.out,
                          &p.algo, workspace_, workspace_bytes_, stream_);
  }
  // No cuBLASLt algorithm for this problem (unusual sizes or alignment): the classic API.
  return cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(T),
                      static_cast<int>(K), &alpha, w, type, static_cast<int>(K), x, type,
                      static_cast<int>(K), &beta, out, out_type, static_cast<int>(N),
                      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
