// The cuBLAS stand-in against a float64 reference: column-major storage, both transposes,
// padded leading dimensions, bf16/f16/f32 inputs, alpha/beta, and the documented argument
// checks. A caller's mistake in a leading dimension must not go unnoticed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_api.h"

namespace {

struct Matrix {
  int rows, cols, ld;
  std::vector<double> value;  // what the stored elements mean (after rounding to the type)
  std::vector<unsigned char> bytes;
};

std::size_t bytes_of(cudaDataType t) {
  return t == CUDA_R_32F ? 4 : 2;
}

// A column-major rows x cols matrix with ld >= rows; the padding holds NaN so any read of it
// spoils the result.
Matrix make_matrix(int rows, int cols, int ld, cudaDataType type, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Matrix m{rows, cols, ld, std::vector<double>(static_cast<std::size_t>(rows * cols)),
           std::vector<unsigned char>(static_cast<std::size_t>(ld * cols) * bytes_of(type))};
  for (int j = 0; j < cols; ++j) {
    for (int i = 0; i < ld; ++i) {
      const float v = i < rows ? dist(rng) : NAN;
      const std::size_t at = static_cast<std::size_t>(i + j * ld);
      float stored = v;
      if (type == CUDA_R_16BF) {
        const __nv_bfloat16 b = __float2bfloat16(v);
        std::memcpy(&m.bytes[at * 2], &b, 2);
        stored = __bfloat162float(b);
      } else if (type == CUDA_R_16F) {
        const __half h = __float2half(v);
        std::memcpy(&m.bytes[at * 2], &h, 2);
        stored = __half2float(h);
      } else {
        std::memcpy(&m.bytes[at * 4], &v, 4);
      }
      if (i < rows) m.value[static_cast<std::size_t>(i + j * rows)] = stored;
    }
  }
  return m;
}

double element(const Matrix& m, int i, int j) {
  return m.value[static_cast<std::size_t>(i + j * m.rows)];
}

float read_c(const Matrix& c, cudaDataType type, int i, int j) {
  const std::size_t at = static_cast<std::size_t>(i + j * c.ld);
  if (type == CUDA_R_16BF) {
    __nv_bfloat16 b;
    std::memcpy(&b, &c.bytes[at * 2], 2);
    return __bfloat162float(b);
  }
  if (type == CUDA_R_16F) {
    __half h;
    std::memcpy(&h, &c.bytes[at * 2], 2);
    return __half2float(h);
  }
  float f;
  std::memcpy(&f, &c.bytes[at * 4], 4);
  return f;
}

class CublasGemmEx
    : public ::testing::TestWithParam<
          std::tuple<cublasOperation_t, cublasOperation_t, std::pair<cudaDataType, cudaDataType>>> {
 protected:
  void SetUp() override { ASSERT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS); }
  void TearDown() override { EXPECT_EQ(cublasDestroy(handle_), CUBLAS_STATUS_SUCCESS); }
  cublasHandle_t handle_ = nullptr;
};

TEST_P(CublasGemmEx, MatchesFloat64Reference) {
  const auto [ta, tb, types] = GetParam();
  const auto [ab_type, c_type] = types;
  const int m = 5, n = 7, k = 9;
  std::mt19937 rng(42);
  // op(A) is m x k and op(B) is k x n; the stored matrices are their transposes when T.
  const Matrix A = ta == CUBLAS_OP_N ? make_matrix(m, k, m + 3, ab_type, rng)
                                     : make_matrix(k, m, k + 2, ab_type, rng);
  const Matrix B = tb == CUBLAS_OP_N ? make_matrix(k, n, k + 1, ab_type, rng)
                                     : make_matrix(n, k, n + 4, ab_type, rng);
  Matrix C = make_matrix(m, n, m + 2, c_type, rng);
  const Matrix C0 = C;
  const float alpha = 1.5f, beta = -0.5f;
  ASSERT_EQ(cublasGemmEx(handle_, ta, tb, m, n, k, &alpha, A.bytes.data(), ab_type, A.ld,
                         B.bytes.data(), ab_type, B.ld, &beta, C.bytes.data(), c_type, C.ld,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int p = 0; p < k; ++p) {
        const double a = ta == CUBLAS_OP_N ? element(A, i, p) : element(A, p, i);
        const double b = tb == CUBLAS_OP_N ? element(B, p, j) : element(B, j, p);
        acc += a * b;
      }
      const double want = alpha * acc + beta * element(C0, i, j);
      // Output rounding: half an ulp of bf16 (2^-9) or f16 (2^-12); f32 output is near exact.
      const double rel = c_type == CUDA_R_16BF  ? 1.0 / 256
                         : c_type == CUDA_R_16F ? 1.0 / 2048
                                                : 1e-6;
      const double tol = rel * (std::abs(want) + 1e-3);
      EXPECT_NEAR(read_c(C, c_type, i, j), want, tol) << i << "," << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTransposesAndTypes, CublasGemmEx,
                         ::testing::Combine(::testing::Values(CUBLAS_OP_N, CUBLAS_OP_T),
                                            ::testing::Values(CUBLAS_OP_N, CUBLAS_OP_T),
                                            // The documented (A/B, C) pairs for CUBLAS_COMPUTE_32F.
                                            ::testing::Values(std::pair{CUDA_R_32F, CUDA_R_32F},
                                                              std::pair{CUDA_R_16BF, CUDA_R_16BF},
                                                              std::pair{CUDA_R_16BF, CUDA_R_32F},
                                                              std::pair{CUDA_R_16F, CUDA_R_16F})),
                         [](const auto& info) {
                           auto name = [](cudaDataType t) {
                             return t == CUDA_R_32F ? "f32" : t == CUDA_R_16BF ? "bf16" : "f16";
                           };
                           const auto types = std::get<2>(info.param);
                           return std::string(std::get<0>(info.param) == CUBLAS_OP_N ? "N" : "T") +
                                  (std::get<1>(info.param) == CUBLAS_OP_N ? "N" : "T") + "_" +
                                  name(types.first) + "_to_" + name(types.second);
                         });

class CublasChecks : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS); }
  void TearDown() override { EXPECT_EQ(cublasDestroy(handle_), CUBLAS_STATUS_SUCCESS); }
  cublasStatus_t gemm(cublasOperation_t ta, cublasOperation_t tb, int lda, int ldb, int ldc,
                      cudaDataType ab = CUDA_R_32F, cudaDataType c = CUDA_R_32F,
                      cublasComputeType_t compute = CUBLAS_COMPUTE_32F) {
    return cublasGemmEx(handle_, ta, tb, 4, 3, 2, &one_, buf_.data(), ab, lda, buf_.data(), ab, ldb,
                        &zero_, out_.data(), c, ldc, compute, CUBLAS_GEMM_DEFAULT);
  }
  cublasHandle_t handle_ = nullptr;
  float one_ = 1.0f, zero_ = 0.0f;
  std::vector<float> buf_ = std::vector<float>(64, 1.0f);
  std::vector<float> out_ = std::vector<float>(64, 0.0f);
};

TEST_F(CublasChecks, LeadingDimensionsAreValidatedAsDocumented) {
  // m=4, n=3, k=2: lda >= (N ? m : k), ldb >= (N ? k : n), ldc >= m.
  EXPECT_EQ(gemm(CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 4), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(gemm(CUBLAS_OP_N, CUBLAS_OP_N, 3, 2, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 4), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(gemm(CUBLAS_OP_T, CUBLAS_OP_N, 1, 2, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(CUBLAS_OP_N, CUBLAS_OP_N, 4, 1, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(CUBLAS_OP_N, CUBLAS_OP_T, 4, 3, 4), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(gemm(CUBLAS_OP_N, CUBLAS_OP_T, 4, 2, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 3), CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(CublasChecks, UndocumentedTypeCombinationsAreRefused) {
  EXPECT_EQ(gemm(CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 4, CUDA_R_16BF, CUDA_R_16F),
            CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(gemm(CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 4, CUDA_R_16BF, CUDA_R_16BF,
                 CUBLAS_COMPUTE_32F_FAST_16BF),
            CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(
      gemm(CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 4, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_16BF),
      CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasGemmEx(nullptr, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one_, buf_.data(), CUDA_R_32F,
                         1, buf_.data(), CUDA_R_32F, 1, &zero_, out_.data(), CUDA_R_32F, 1,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_NOT_INITIALIZED);
}

TEST_F(CublasChecks, WrongLeadingDimensionGivesWrongNumbers) {
  // A is 2x2 stored with ld 3 (padding NaN); a caller passing lda = 2 reads the padding.
  std::vector<float> a = {1, 2, NAN, 3, 4, NAN}, b = {1, 0, 0, 1}, c(4, 0.0f);
  auto run = [&](int lda) {
    return cublasGemmEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one_, a.data(), CUDA_R_32F,
                        lda, b.data(), CUDA_R_32F, 2, &zero_, c.data(), CUDA_R_32F, 2,
                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  };
  ASSERT_EQ(run(3), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c, (std::vector<float>{1, 2, 3, 4}));
  ASSERT_EQ(run(2), CUBLAS_STATUS_SUCCESS);
  EXPECT_NE(c[3], 4.0f);
}

TEST_F(CublasChecks, BetaZeroIgnoresGarbageInC) {
  std::vector<float> a = {1, 2}, b = {3}, c = {NAN, NAN};
  ASSERT_EQ(cublasGemmEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &one_, a.data(), CUDA_R_32F, 2,
                         b.data(), CUDA_R_32F, 1, &zero_, c.data(), CUDA_R_32F, 2,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c, (std::vector<float>{3, 6}));
}

TEST_F(CublasChecks, StridedBatchedAndSgemm) {
  // Two batches of a 1x1x2 product: [1 2].[3 4] = 11 and [5 6].[7 8] = 83.
  std::vector<float> a = {1, 2, 5, 6}, b = {3, 4, 7, 8}, c(2, NAN);
  ASSERT_EQ(
      cublasGemmStridedBatchedEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, 1, 1, 2, &one_, a.data(),
                                 CUDA_R_32F, 2, 2, b.data(), CUDA_R_32F, 2, 2, &zero_, c.data(),
                                 CUDA_R_32F, 1, 1, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
      CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c, (std::vector<float>{11, 83}));
  float s = NAN;
  ASSERT_EQ(cublasSgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, 1, 1, 2, &one_, a.data(), 2, b.data(), 2,
                        &zero_, &s, 1),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(s, 11.0f);
}

}  // namespace
