// cuBLAS on the host: the GEMM entry points with cuBLAS's exact column-major contract. Leading
// dimensions, transposes and type combinations are validated as the cuBLAS documentation states,
// and the product is exact enough (double accumulation) that a caller's indexing mistake shows
// as a failing status or wrong numbers, never as silently right ones.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "kernels/cuda/cuda_api.h"

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

// Rounds an f32 to the given number of mantissa bits (round to nearest even), as Tensor Cores
// see inputs in the FAST_16BF (7 bits) and FAST_TF32 (10 bits) compute types.
float round_mantissa(float x, int bits) {
  auto u = std::bit_cast<std::uint32_t>(x);
  const int drop = 23 - bits;
  const std::uint32_t half = 1u << (drop - 1);
  u = (u + half - 1 + ((u >> drop) & 1u)) & ~((1u << drop) - 1u);
  return std::bit_cast<float>(u);
}

float load(const void* base, cudaDataType type, std::size_t index) {
  switch (type) {
    case CUDA_R_16BF:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[index]);
    case CUDA_R_16F:
      return __half2float(static_cast<const __half*>(base)[index]);
    default:
      return static_cast<const float*>(base)[index];
  }
}

void store(void* base, cudaDataType type, std::size_t index, float v) {
  switch (type) {
    case CUDA_R_16BF:
      static_cast<__nv_bfloat16*>(base)[index] = __float2bfloat16(v);
      break;
    case CUDA_R_16F:
      static_cast<__half*>(base)[index] = __float2half(v);
      break;
    default:
      static_cast<float*>(base)[index] = v;
      break;
  }
}

std::size_t element_bytes(cudaDataType type) {
  return type == CUDA_R_32F ? 4 : 2;
}

// The (A/B type, C type, compute type) combinations cublasGemmEx documents for real types with
// f32 compute.
bool supported(cudaDataType ab, cudaDataType c, cublasComputeType_t compute) {
  switch (compute) {
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
      return (ab == CUDA_R_32F && c == CUDA_R_32F) ||
             ((ab == CUDA_R_16BF || ab == CUDA_R_16F) && (c == ab || c == CUDA_R_32F));
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_TF32:
      return ab == CUDA_R_32F && c == CUDA_R_32F;
    default:
      return false;
  }
}

struct Gemm {
  cublasOperation_t transa, transb;
  int m, n, k;
  const void* alpha;
  const void* A;
  cudaDataType Atype;
  int lda;
  long long strideA;
  const void* B;
  cudaDataType Btype;
  int ldb;
  long long strideB;
  const void* beta;
  void* C;
  cudaDataType Ctype;
  int ldc;
  long long strideC;
  int batch;
  cublasComputeType_t compute;
};

bool is_op(cublasOperation_t op) {
  return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}

cublasStatus_t run(cublasHandle_t handle, const Gemm& g) {
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!is_op(g.transa) || !is_op(g.transb) || g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 0) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  const bool ta = g.transa != CUBLAS_OP_N, tb = g.transb != CUBLAS_OP_N;
  if (g.lda < std::max(1, ta ? g.k : g.m) || g.ldb < std::max(1, tb ? g.n : g.k) ||
      g.ldc < std::max(1, g.m) || g.alpha == nullptr || g.beta == nullptr) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (g.Atype != g.Btype || !supported(g.Atype, g.Ctype, g.compute)) {
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (g.m == 0 || g.n == 0 || g.batch == 0) return CUBLAS_STATUS_SUCCESS;
  const float alpha = *static_cast<const float*>(g.alpha);
  const float beta = *static_cast<const float*>(g.beta);
  // Captured into a graph: the host scalars are read now (as cuBLAS does), the product at replay.
  if (llm::simt::record_if_capturing(handle->stream, [handle, gemm = g, alpha, beta]() mutable {
        gemm.alpha = &alpha;
        gemm.beta = &beta;
        run(handle, gemm);
      })) {
    return CUBLAS_STATUS_SUCCESS;
  }
  const int mantissa = g.compute == CUBLAS_COMPUTE_32F_FAST_16BF   ? 7
                       : g.compute == CUBLAS_COMPUTE_32F_FAST_16F  ? 10
                       : g.compute == CUBLAS_COMPUTE_32F_FAST_TF32 ? 10
                                                                   : 23;
  const auto m = static_cast<std::size_t>(g.m), n = static_cast<std::size_t>(g.n),
             k = static_cast<std::size_t>(g.k);
  const auto lda = static_cast<std::size_t>(g.lda), ldb = static_cast<std::size_t>(g.ldb),
             ldc = static_cast<std::size_t>(g.ldc);
  std::vector<float> a(m * k), b(n * k);  // op(A) by rows, op(B) by columns: contiguous dots
  for (int batch = 0; batch < g.batch; ++batch) {
    const auto* A =
        static_cast<const char*>(g.A) + static_cast<std::ptrdiff_t>(batch * g.strideA) *
                                            static_cast<std::ptrdiff_t>(element_bytes(g.Atype));
    const auto* B =
        static_cast<const char*>(g.B) + static_cast<std::ptrdiff_t>(batch * g.strideB) *
                                            static_cast<std::ptrdiff_t>(element_bytes(g.Btype));
    auto* C = static_cast<char*>(g.C) + static_cast<std::ptrdiff_t>(batch * g.strideC) *
                                            static_cast<std::ptrdiff_t>(element_bytes(g.Ctype));
    if (alpha != 0.0f) {
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t p = 0; p < k; ++p) {
          const float v = load(A, g.Atype, ta ? p + i * lda : i + p * lda);
          a[i * k + p] = mantissa < 23 ? round_mantissa(v, mantissa) : v;
        }
      }
      for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t p = 0; p < k; ++p) {
          const float v = load(B, g.Btype, tb ? j + p * ldb : p + j * ldb);
          b[j * k + p] = mantissa < 23 ? round_mantissa(v, mantissa) : v;
        }
      }
    }
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t i = 0; i < m; ++i) {
        double acc = 0.0;
        if (alpha != 0.0f) {
          const float* ar = &a[i * k];
          const float* bc = &b[j * k];
          for (std::size_t p = 0; p < k; ++p) acc += static_cast<double>(ar[p]) * bc[p];
        }
        double out = static_cast<double>(alpha) * acc;
        // As in cuBLAS, C is not read when beta is zero (it may hold NaN or garbage).
        if (beta != 0.0f) out += static_cast<double>(beta) * load(C, g.Ctype, i + j * ldc);
        store(C, g.Ctype, i + j * ldc, static_cast<float>(out));
      }
    }
  }
  return CUBLAS_STATUS_SUCCESS;
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
  return run(handle, Gemm{transa, transb, m, n,    k, alpha, A,   Atype, lda, 0,          B,
                          Btype,  ldb,    0, beta, C, Ctype, ldc, 0,     1,   computeType});
}

cublasStatus_t cublasGemmStridedBatchedEx(
    cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
    const void* alpha, const void* A, cudaDataType Atype, int lda, long long strideA, const void* B,
    cudaDataType Btype, int ldb, long long strideB, const void* beta, void* C, cudaDataType Ctype,
    int ldc, long long strideC, int batchCount, cublasComputeType_t computeType,
    cublasGemmAlgo_t /*algo*/) {
  return run(handle,
             Gemm{transa, transb, m,       n,    k, alpha, A,   Atype,   lda,        strideA,    B,
                  Btype,  ldb,    strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType});
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k, const float* alpha,
                              const float* A, int lda, const float* B, int ldb, const float* beta,
                              float* C, int ldc) {
  return run(handle,
             Gemm{transa,     transb, m,          n,   k,          alpha, A,
                  CUDA_R_32F, lda,    0,          B,   CUDA_R_32F, ldb,   0,
                  beta,       C,      CUDA_R_32F, ldc, 0,          1,     CUBLAS_COMPUTE_32F});
}
