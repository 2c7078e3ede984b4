// The CUDA runtime stand-in: device memory accounting, copies bounded by their allocations,
// streams and events, and errors reported the way the real runtime reports them.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/launch.h"

namespace {

// Thread 5 of block 1 reads p[i]; every other thread does nothing.
__global__ void read_one(const float* p, int i, float* out) {
  if (threadIdx.x == 5 && blockIdx.x == 1) *out = p[i];
}

// Device memory ends at a guard page: a kernel that reads past its allocation stops at once,
// naming the address, block and thread, as compute-sanitizer's memcheck would.
TEST(SimtRuntimeDeathTest, AKernelReadingPastItsAllocationStopsNamingItsThread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 1000 * sizeof(float)), cudaSuccess);  // 4000 bytes: 4096 mapped
  float out = 0.0f;
  // Inside the allocation, and in the rounding's slack (poison): no fault.
  LLM_LAUNCH(read_one, 2, 32, 0, nullptr, d, 999, &out);
  LLM_LAUNCH(read_one, 2, 32, 0, nullptr, d, 1023, &out);
  EXPECT_TRUE(std::isnan(out));
  EXPECT_DEATH(LLM_LAUNCH(read_one, 2, 32, 0, nullptr, d, 1024, &out),
               "illegal address .* in block \\(1,0,0\\) thread \\(5,0,0\\)");
  EXPECT_DEATH(LLM_LAUNCH(read_one, 2, 32, 0, nullptr, d, -100, &out), "illegal address");
  ASSERT_EQ(cudaFree(d), cudaSuccess);
}

TEST(SimtRuntime, DeviceMemoryIsAccountedAndPoisoned) {
  llm::simt::set_device_memory_bytes(std::size_t{64} << 20);
  std::size_t free0 = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free0, &total), cudaSuccess);
  EXPECT_EQ(total, std::size_t{64} << 20);
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 1000 * sizeof(float)), cudaSuccess);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(d) % 256, 0u);
  std::size_t free1 = 0;
  ASSERT_EQ(cudaMemGetInfo(&free1, &total), cudaSuccess);
  EXPECT_LE(free1, free0 - 4000);
  EXPECT_TRUE(std::isnan(d[0]) && std::isnan(d[999])) << "fresh device memory reads as NaN";
  void* too_big = nullptr;
  EXPECT_EQ(cudaMalloc(&too_big, std::size_t{65} << 20), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  ASSERT_EQ(cudaFree(d), cudaSuccess);
  ASSERT_EQ(cudaMemGetInfo(&free1, &total), cudaSuccess);
  EXPECT_EQ(free1, free0);
  EXPECT_EQ(cudaFree(d), cudaErrorInvalidValue) << "double free";
  cudaGetLastError();
  llm::simt::set_device_memory_bytes(std::size_t{2} << 30);
}

// Tensor-parallel ranks each own a device: what one allocates leaves the others' budgets alone.
TEST(SimtRuntime, EachDeviceHasItsOwnMemoryBudget) {
  constexpr std::size_t kBytes = std::size_t{8} << 20;
  std::size_t free0 = 0, free1 = 0, total = 0, now = 0;
  ASSERT_EQ(cudaMemGetInfo(&free0, &total), cudaSuccess);
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  ASSERT_EQ(cudaMemGetInfo(&free1, &total), cudaSuccess);
  void* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, kBytes), cudaSuccess);
  ASSERT_EQ(cudaMemGetInfo(&now, &total), cudaSuccess);
  EXPECT_EQ(now, free1 - kBytes);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  ASSERT_EQ(cudaMemGetInfo(&now, &total), cudaSuccess);
  EXPECT_EQ(now, free0) << "device 1's allocation counted on device 0";
  ASSERT_EQ(cudaFree(d), cudaSuccess) << "any thread may free any device's memory";
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  ASSERT_EQ(cudaMemGetInfo(&now, &total), cudaSuccess);
  EXPECT_EQ(now, free1);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
}

TEST(SimtRuntime, CopiesStayInsideTheirAllocations) {
  std::vector<float> host(16, 3.0f), back(16, 0.0f);
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 16 * sizeof(float)), cudaSuccess);
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(d, host.data(), 64, cudaMemcpyHostToDevice, s), cudaSuccess);
  EXPECT_EQ(cudaMemsetAsync(d, 0, 8, s), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(back.data(), d, 64, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(back[0], 0.0f);
  EXPECT_EQ(back[2], 3.0f);
  EXPECT_EQ(cudaMemcpy(d, host.data(), 68, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(back.data(), host.data(), 4, cudaMemcpyDeviceToHost), cudaErrorInvalidValue)
      << "a host pointer passed as the device source";
  EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaFree(d), cudaSuccess);
  cudaGetLastError();
}

TEST(SimtRuntime, EventsDeviceAndErrorStrings) {
  cudaEvent_t a = nullptr, b = nullptr;
  ASSERT_EQ(cudaEventCreate(&a), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&b), cudaSuccess);
  float ms = -1.0f;
  EXPECT_EQ(cudaEventElapsedTime(&ms, a, b), cudaErrorInvalidResourceHandle) << "not recorded";
  ASSERT_EQ(cudaEventRecord(a, nullptr), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(b, nullptr), cudaSuccess);
  ASSERT_EQ(cudaEventSynchronize(b), cudaSuccess);
  ASSERT_EQ(cudaEventElapsedTime(&ms, a, b), cudaSuccess);
  EXPECT_GE(ms, 0.0f);
  EXPECT_EQ(cudaEventDestroy(a), cudaSuccess);
  EXPECT_EQ(cudaEventDestroy(b), cudaSuccess);
  int count = 0, dev = -1;
  EXPECT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  EXPECT_EQ(count, llm::simt::kDevices);
  EXPECT_EQ(cudaSetDevice(count), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaSetDevice(-1), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaSetDevice(0), cudaSuccess);
  EXPECT_EQ(cudaGetDevice(&dev), cudaSuccess);
  EXPECT_EQ(dev, 0);
  cudaDeviceProp prop;
  ASSERT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
  EXPECT_EQ(prop.warpSize, 32);
  EXPECT_STREQ(cudaGetErrorString(cudaErrorInvalidConfiguration), "invalid configuration argument");
  EXPECT_STREQ(cudaGetErrorName(cudaErrorMemoryAllocation), "cudaErrorMemoryAllocation");
}

}  // namespace
