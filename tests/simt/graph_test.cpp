// CUDA graphs in the emulator: capture records kernels, cuBLAS calls and device copies with the
// arguments they had at capture time, a launch replays them, and what a GPU refuses during
// capture (copies from pageable host memory, cudaMalloc, synchronising) is refused here too, so
// the backend's graph path is checked before it ever meets a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "kernels/cuda/launch.h"

namespace {

__global__ void scale_add(float* x, int n, float scale, float add) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) x[i] = x[i] * scale + add;
}

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { EXPECT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess); }
  ~Stream() { cudaStreamDestroy(s); }
};

std::vector<float> download(const float* d, int n) {
  std::vector<float> h(static_cast<size_t>(n));
  EXPECT_EQ(cudaMemcpy(h.data(), d, h.size() * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  return h;
}

TEST(SimtGraph, CaptureRecordsAndLaunchReplaysWithCaptureTimeArguments) {
  constexpr int n = 100;
  const std::vector<float> start = [] {
    std::vector<float> v(n);
    for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = 0.25f * static_cast<float>(i) - 7.0f;
    return v;
  }();
  float *x = nullptr, *y = nullptr;
  ASSERT_EQ(cudaMalloc(&x, n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&y, n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(x, start.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  Stream stream;

  ASSERT_EQ(cudaStreamBeginCapture(stream.s, cudaStreamCaptureModeGlobal), cudaSuccess);
  float scale = 2.0f;
  LLM_LAUNCH(scale_add, dim3(4), dim3(32), 0, stream.s, x, n, scale, 1.0f);
  scale = 100.0f;  // too late: the graph holds the value it was given
  ASSERT_EQ(cudaMemcpyAsync(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice, stream.s),
            cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(stream.s, &graph), cudaSuccess);
  EXPECT_EQ(download(x, n), start) << "capturing must not run the work";

  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphDestroy(graph), cudaSuccess) << "the instance outlives its graph";
  for (int launch = 1; launch <= 2; ++launch) {
    ASSERT_EQ(cudaGraphLaunch(exec, stream.s), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream.s), cudaSuccess);
  }
  const std::vector<float> got = download(x, n), copy = download(y, n);
  for (int i = 0; i < n; ++i) {
    const float once = start[static_cast<size_t>(i)] * 2.0f + 1.0f;
    EXPECT_EQ(got[static_cast<size_t>(i)], once * 2.0f + 1.0f) << i;
  }
  EXPECT_EQ(copy, got) << "the copy replays after the kernel, in issue order";
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaErrorInvalidValue) << "destroyed twice";
  cudaGetLastError();
  cudaFree(x);
  cudaFree(y);
}

// A global-mode capture restricts every host thread, a thread-local one only its own: with
// tensor-parallel ranks on threads, one rank's global capture would fail another rank's
// cudaMalloc (the backend captures thread-locally for this reason).
TEST(SimtGraph, GlobalCaptureReachesOtherThreadsAndThreadLocalDoesNot) {
  for (const cudaStreamCaptureMode mode :
       {cudaStreamCaptureModeGlobal, cudaStreamCaptureModeThreadLocal,
        cudaStreamCaptureModeRelaxed}) {
    Stream stream;
    ASSERT_EQ(cudaStreamBeginCapture(stream.s, mode), cudaSuccess);
    cudaError_t other = cudaErrorUnknown;
    std::thread([&other] {
      float* p = nullptr;
      other = cudaMalloc(&p, 256);
      if (other == cudaSuccess) cudaFree(p);
      cudaGetLastError();
    }).join();
    float* mine = nullptr;
    const cudaError_t own = cudaMalloc(&mine, 256);
    if (own == cudaSuccess) cudaFree(mine);
    cudaGetLastError();
    cudaGraph_t graph = nullptr;
    cudaStreamEndCapture(stream.s, &graph);  // (a GPU may call the capture invalidated)
    if (graph != nullptr) cudaGraphDestroy(graph);
    cudaGetLastError();
    EXPECT_EQ(other,
              mode == cudaStreamCaptureModeGlobal ? cudaErrorStreamCaptureUnsupported : cudaSuccess)
        << "mode " << mode;
    EXPECT_EQ(
        own, mode == cudaStreamCaptureModeRelaxed ? cudaSuccess : cudaErrorStreamCaptureUnsupported)
        << "mode " << mode;
  }
  float* after = nullptr;
  EXPECT_EQ(cudaMalloc(&after, 256), cudaSuccess) << "every capture has ended";
  cudaFree(after);
}

TEST(SimtGraph, CublasCaptureReadsHostScalarsAtCaptureTime) {
  // C[2x2] = alpha * A[2x3] B[3x2], column-major.
  const std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {1, -1, 2, 0.5f, 3, -2};
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  ASSERT_EQ(cudaMalloc(&da, 6 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&db, 6 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dc, 4 * sizeof(float)), cudaSuccess);
  cudaMemcpy(da, a.data(), 6 * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), 6 * sizeof(float), cudaMemcpyHostToDevice);
  Stream stream;
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSetStream(handle, stream.s), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cudaStreamBeginCapture(stream.s, cudaStreamCaptureModeGlobal), cudaSuccess);
  {
    const float alpha = 3.0f, beta = 0.0f;  // gone before the graph runs
    ASSERT_EQ(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &alpha, da, CUDA_R_32F, 2, db,
                           CUDA_R_32F, 3, &beta, dc, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F,
                           CUBLAS_GEMM_DEFAULT),
              CUBLAS_STATUS_SUCCESS);
  }
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(stream.s, &graph), cudaSuccess);
  ASSERT_TRUE(std::isnan(download(dc, 4)[0])) << "not run at capture";
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, stream.s), cudaSuccess);
  const std::vector<float> c = download(dc, 4);
  // column j of C = 3 * sum_p A[:, p] * B[p, j]
  EXPECT_FLOAT_EQ(c[0], 3 * (1 * 1 + 3 * -1 + 5 * 2));
  EXPECT_FLOAT_EQ(c[1], 3 * (2 * 1 + 4 * -1 + 6 * 2));
  EXPECT_FLOAT_EQ(c[2], 3 * (1 * 0.5f + 3 * 3 + 5 * -2));
  EXPECT_FLOAT_EQ(c[3], 3 * (2 * 0.5f + 4 * 3 + 6 * -2));
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cublasDestroy(handle);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
}

TEST(SimtGraph, WhatAGpuCannotCaptureFailsAndInvalidatesTheCapture) {
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 16 * sizeof(float)), cudaSuccess);
  std::vector<float> host(16, 1.0f);
  Stream stream;

  EXPECT_EQ(cudaStreamBeginCapture(nullptr, cudaStreamCaptureModeGlobal),
            cudaErrorStreamCaptureUnsupported)
      << "the legacy stream cannot be captured";

  ASSERT_EQ(cudaStreamBeginCapture(stream.s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaStreamBeginCapture(stream.s, cudaStreamCaptureModeGlobal), cudaErrorIllegalState);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 64), cudaErrorStreamCaptureUnsupported) << "cudaMalloc in capture";
  EXPECT_EQ(cudaMemcpyAsync(d, host.data(), 64, cudaMemcpyHostToDevice, stream.s),
            cudaErrorStreamCaptureUnsupported)
      << "a pageable host copy in capture";
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(stream.s, &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(graph, nullptr);

  ASSERT_EQ(cudaStreamBeginCapture(stream.s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(stream.s), cudaErrorStreamCaptureUnsupported);
  EXPECT_EQ(cudaStreamEndCapture(stream.s, &graph), cudaErrorStreamCaptureInvalidated);

  // After the failed captures the stream and the allocator work as before.
  ASSERT_EQ(cudaMalloc(&p, 64), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(d, host.data(), 64, cudaMemcpyHostToDevice, stream.s), cudaSuccess);
  EXPECT_EQ(download(d, 16), host);
  cudaGetLastError();
  cudaFree(p);
  cudaFree(d);
}

}  // namespace
