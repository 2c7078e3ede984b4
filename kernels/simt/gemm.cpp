#include "kernels/simt/gemm.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace llm::simt {
namespace {

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

bool is_op(cublasOperation_t op) {
  return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}

}  // namespace

cublasStatus_t run_gemm(cudaStream_t stream, const Gemm& g) {
  if (!is_op(g.transa) || !is_op(g.transb) || g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 0) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  const bool ta = g.transa != CUBLAS_OP_N, tb = g.transb != CUBLAS_OP_N;
  if (g.lda < std::max(1, ta ? g.k : g.m) || g.ldb < std::max(1, tb ? g.n : g.k) ||
      g.ldc < std::max(1, g.m) || g.ldd < std::max(1, g.m) || g.alpha == nullptr ||
      g.beta == nullptr) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (g.Atype != g.Btype || !supported(g.Atype, g.Ctype, g.compute)) {
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (g.m == 0 || g.n == 0 || g.batch == 0) return CUBLAS_STATUS_SUCCESS;
  const float alpha = *static_cast<const float*>(g.alpha);
  const float beta = *static_cast<const float*>(g.beta);
  // Captured into a graph: the host scalars are read now (as cuBLAS does), the product at replay.
  if (record_if_capturing(stream, [stream, gemm = g, alpha, beta]() mutable {
        gemm.alpha = &alpha;
        gemm.beta = &beta;
        run_gemm(stream, gemm);
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
             ldc = static_cast<std::size_t>(g.ldc), ldd = static_cast<std::size_t>(g.ldd);
  std::vector<float> a(m * k), b(n * k);  // op(A) by rows, op(B) by columns: contiguous dots
  for (int batch = 0; batch < g.batch; ++batch) {
    const auto* A =
        static_cast<const char*>(g.A) + static_cast<std::ptrdiff_t>(batch * g.strideA) *
                                            static_cast<std::ptrdiff_t>(element_bytes(g.Atype));
    const auto* B =
        static_cast<const char*>(g.B) + static_cast<std::ptrdiff_t>(batch * g.strideB) *
                                            static_cast<std::ptrdiff_t>(element_bytes(g.Btype));
    const auto* C =
        static_cast<const char*>(g.C) + static_cast<std::ptrdiff_t>(batch * g.strideC) *
                                            static_cast<std::ptrdiff_t>(element_bytes(g.Ctype));
    auto* D = static_cast<char*>(g.D) + static_cast<std::ptrdiff_t>(batch * g.strideD) *
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
        store(D, g.Ctype, i + j * ldd, static_cast<float>(out));
      }
    }
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace llm::simt
