// Emulator settings and internals shared by the emulator's parts, plus the C++ overloads that
// cuda_runtime.h adds on top of the C API (typed cudaMalloc and friends), which code written for
// nvcc relies on. The C API itself is declared by the real cuda_runtime_api.h (see names.h) and
// implemented in runtime.cpp. Included through kernels/simt/simt.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llm::simt {

// Emulated devices (cudaSetDevice 0..kDevices-1), enough for every tensor-parallel test.
inline constexpr int kDevices = 8;

// Each emulated device's memory: cudaMemGetInfo reports it and cudaMalloc fails beyond it.
// Default 2 GiB, or LLM_SIMT_DEVICE_MEMORY (bytes, with an optional K, M or G suffix).
void set_device_memory_bytes(std::size_t bytes);
std::size_t device_memory_bytes();
// Bytes currently allocated with cudaMalloc on the calling thread's current device.
std::size_t device_memory_used();

// The seed of the threads' resume order; LLM_SIMT_SEED overrides the fixed default.
void set_schedule_seed(std::uint64_t seed);
std::uint64_t schedule_seed();

// Internals of the launch path.
void record_launch_error(cudaError_t err);
std::size_t max_dynamic_shared_bytes(const void* kernel);

}  // namespace llm::simt

template <typename T>
cudaError_t cudaMalloc(T** ptr, std::size_t size) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), size);
}
inline cudaError_t cudaMallocHost(void** ptr, std::size_t size, unsigned flags) {
  return cudaHostAlloc(ptr, size, flags);
}
template <typename T>
cudaError_t cudaMallocHost(T** ptr, std::size_t size, unsigned flags = 0) {
  return cudaHostAlloc(reinterpret_cast<void**>(ptr), size, flags);
}
template <typename T>
cudaError_t cudaFuncSetAttribute(T* kernel, cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attr, value);
}
inline cudaError_t cudaEventCreate(cudaEvent_t* event, unsigned flags) {
  return cudaEventCreateWithFlags(event, flags);
}
