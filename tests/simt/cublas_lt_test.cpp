// The cuBLASLt stand-in as the CUDA backend drives it: D = alpha * op(A) op(B) + beta * C with
// A transposed, bf16/f16 inputs, outputs in the inputs' type or f32, C = D in place (the residual
// add), against float64; a graph capture computes at replay, not at capture; and what the
// emulator does not model (other epilogues, mismatched shapes, destroyed descriptors) is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cuda/cuda_api.h"

namespace {

// Elements of a column-major matrix stored as `type`, with the values they hold after rounding.
struct Stored {
  std::vector<unsigned char> bytes;
  std::vector<double> value;
};

Stored store(const std::vector<float>& v, cudaDataType type) {
  Stored s{std::vector<unsigned char>(v.size() * (type == CUDA_R_32F ? 4 : 2)),
           std::vector<double>(v.size())};
  for (size_t i = 0; i < v.size(); ++i) {
    if (type == CUDA_R_16BF) {
      const __nv_bfloat16 b = __float2bfloat16(v[i]);
      std::memcpy(&s.bytes[i * 2], &b, 2);
      s.value[i] = __bfloat162float(b);
    } else if (type == CUDA_R_16F) {
      const __half h = __float2half(v[i]);
      std::memcpy(&s.bytes[i * 2], &h, 2);
      s.value[i] = __half2float(h);
    } else {
      std::memcpy(&s.bytes[i * 4], &v[i], 4);
      s.value[i] = v[i];
    }
  }
  return s;
}

double load(const std::vector<unsigned char>& bytes, cudaDataType type, size_t i) {
  if (type == CUDA_R_16BF) {
    __nv_bfloat16 b;
    std::memcpy(&b, &bytes[i * 2], 2);
    return __bfloat162float(b);
  }
  if (type == CUDA_R_16F) {
    __half h;
    std::memcpy(&h, &bytes[i * 2], 2);
    return __half2float(h);
  }
  float f;
  std::memcpy(&f, &bytes[i * 4], 4);
  return f;
}

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// The backend's problem: w [N, K] row-major (column-major K x N, transposed), x [T, K] row-major
// (column-major K x T), out [T, N] row-major (column-major N x T).
class CublasLtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(cublasLtCreate(&lt_), CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cudaStreamCreate(&stream_), cudaSuccess);
  }
  void TearDown() override {
    forget();
    cudaStreamDestroy(stream_);
    cublasLtDestroy(lt_);
  }

  // Destroys the descriptors describe() made.
  void forget() {
    for (cublasLtMatrixLayout_t l : {w_, x_, out_}) {
      if (l) cublasLtMatrixLayoutDestroy(l);
    }
    if (desc_) cublasLtMatmulDescDestroy(desc_);
    desc_ = nullptr;
    w_ = x_ = out_ = nullptr;
  }

  void describe(int T, int N, int K, cudaDataType type, cudaDataType out_type) {
    forget();
    ASSERT_EQ(cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F),
              CUBLAS_STATUS_SUCCESS);
    const int32_t trans = CUBLAS_OP_T;
    ASSERT_EQ(
        cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &trans, sizeof trans),
        CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cublasLtMatrixLayoutCreate(&w_, type, K, N, K), CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cublasLtMatrixLayoutCreate(&x_, type, K, T, K), CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cublasLtMatrixLayoutCreate(&out_, out_type, N, T, N), CUBLAS_STATUS_SUCCESS);
  }

  cublasStatus_t matmul(const void* w, const void* x, float beta, void* out) {
    const float alpha = 1.0f;
    return cublasLtMatmul(lt_, desc_, &alpha, w, w_, x, x_, &beta, out, out_, out, out_, nullptr,
                          nullptr, 0, stream_);
  }

  cublasLtHandle_t lt_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t w_ = nullptr, x_ = nullptr, out_ = nullptr;
};

TEST_F(CublasLtTest, TransposedWeightsTimesActivationsMatchFloat64) {
  struct Case {
    int T, N, K;
    cudaDataType type, out_type;
    float beta;  // 1: out += product (the residual add, C = D)
  };
  const Case cases[] = {
      {3, 17, 40, CUDA_R_16BF, CUDA_R_16BF, 0.0f}, {5, 8, 33, CUDA_R_16F, CUDA_R_16F, 0.0f},
      {4, 12, 64, CUDA_R_16BF, CUDA_R_32F, 1.0f},  {1, 30, 16, CUDA_R_32F, CUDA_R_32F, 1.0f},
      {7, 9, 24, CUDA_R_16F, CUDA_R_32F, 0.0f},
  };
  unsigned seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE("T=" + std::to_string(c.T) + " N=" + std::to_string(c.N) +
                 " K=" + std::to_string(c.K) + " beta=" + std::to_string(c.beta));
    describe(c.T, c.N, c.K, c.type, c.out_type);
    const Stored w = store(random_floats(static_cast<size_t>(c.N * c.K), ++seed), c.type);
    const Stored x = store(random_floats(static_cast<size_t>(c.T * c.K), ++seed), c.type);
    Stored out = store(random_floats(static_cast<size_t>(c.T * c.N), ++seed), c.out_type);
    const std::vector<double> before = out.value;
    ASSERT_EQ(matmul(w.bytes.data(), x.bytes.data(), c.beta, out.bytes.data()),
              CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    const double unit = c.out_type == CUDA_R_16BF  ? 0x1p-8
                        : c.out_type == CUDA_R_16F ? 0x1p-11
                                                   : 1e-6;
    for (int t = 0; t < c.T; ++t) {
      for (int n = 0; n < c.N; ++n) {
        double want = c.beta * before[static_cast<size_t>(t * c.N + n)];
        for (int k = 0; k < c.K; ++k) {
          want +=
              w.value[static_cast<size_t>(n * c.K + k)] * x.value[static_cast<size_t>(t * c.K + k)];
        }
        const double got = load(out.bytes, c.out_type, static_cast<size_t>(t * c.N + n));
        ASSERT_NEAR(got, want, unit * std::abs(want) + 1e-6) << "t " << t << " n " << n;
      }
    }
  }
}

TEST_F(CublasLtTest, HeuristicOffersAnAlgorithmOnlyForAValidProblem) {
  describe(4, 8, 16, CUDA_R_16BF, CUDA_R_16BF);
  cublasLtMatmulPreference_t pref = nullptr;
  ASSERT_EQ(cublasLtMatmulPreferenceCreate(&pref), CUBLAS_STATUS_SUCCESS);
  const uint64_t workspace = 1 << 20;
  ASSERT_EQ(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                 &workspace, sizeof workspace),
            CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulHeuristicResult_t result{};
  int found = -1;
  EXPECT_EQ(
      cublasLtMatmulAlgoGetHeuristic(lt_, desc_, w_, x_, out_, out_, pref, 1, &result, &found),
      CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(found, 1);
  EXPECT_EQ(result.state, CUBLAS_STATUS_SUCCESS);
  // x's K differs from w's: no algorithm, and the matmul itself is refused.
  cublasLtMatrixLayout_t bad = nullptr;
  ASSERT_EQ(cublasLtMatrixLayoutCreate(&bad, CUDA_R_16BF, 15, 4, 16), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(
      cublasLtMatmulAlgoGetHeuristic(lt_, desc_, w_, bad, out_, out_, pref, 1, &result, &found),
      CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(found, 0);
  cublasLtMatrixLayoutDestroy(bad);
  cublasLtMatmulPreferenceDestroy(pref);
}

TEST_F(CublasLtTest, WhatTheEmulatorDoesNotModelIsRefused) {
  describe(2, 4, 8, CUDA_R_16BF, CUDA_R_16BF);
  std::vector<unsigned char> buf(64 * 2, 0);
  // A bias epilogue would add a vector the emulator never reads: refused, not ignored.
  const uint32_t bias = CUBLASLT_EPILOGUE_BIAS;
  ASSERT_EQ(
      cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &bias, sizeof bias),
      CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(matmul(buf.data(), buf.data(), 0.0f, buf.data()), CUBLAS_STATUS_NOT_SUPPORTED);
  const uint32_t plain = CUBLASLT_EPILOGUE_DEFAULT;
  ASSERT_EQ(
      cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &plain, sizeof plain),
      CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(matmul(buf.data(), buf.data(), 0.0f, buf.data()), CUBLAS_STATUS_SUCCESS);
  // An attribute buffer of the wrong size, and a layout whose ld is below its rows.
  const int64_t wide = CUBLAS_OP_T;
  EXPECT_EQ(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &wide, sizeof wide),
            CUBLAS_STATUS_INVALID_VALUE);
  cublasLtMatrixLayout_t bad = nullptr;
  EXPECT_EQ(cublasLtMatrixLayoutCreate(&bad, CUDA_R_16BF, 8, 2, 4), CUBLAS_STATUS_INVALID_VALUE);
  // A destroyed layout is no longer valid.
  ASSERT_EQ(cublasLtMatrixLayoutDestroy(out_), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(matmul(buf.data(), buf.data(), 0.0f, buf.data()), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasLtMatrixLayoutDestroy(out_), CUBLAS_STATUS_INVALID_VALUE);
  out_ = nullptr;
}

// A captured matmul computes at replay, on the data its buffers hold then.
TEST_F(CublasLtTest, CapturedMatmulComputesAtReplay) {
  describe(1, 2, 2, CUDA_R_32F, CUDA_R_32F);
  std::vector<float> w = {1, 2, 3, 4}, x = {1, 1}, out = {0, 0};  // w rows (1, 2) and (3, 4)
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  ASSERT_EQ(matmul(w.data(), x.data(), 0.0f, out.data()), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cudaStreamEndCapture(stream_, &graph), cudaSuccess);
  EXPECT_EQ(out[0], 0.0f);  // not run at capture
  x = {10, 100};
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, stream_), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  EXPECT_EQ(out[0], 210.0f);
  EXPECT_EQ(out[1], 430.0f);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

}  // namespace
