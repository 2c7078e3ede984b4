// The CUDA runtime on the host: kDevices emulated devices whose memory is host memory (each
// with its own budget, so tensor-parallel ranks see one device each), copies, and the
// per-thread last-error state; streams.cpp has the streams, events and graphs. Misuse the real
// runtime rejects (freeing an unknown pointer, a copy that leaves its device allocation, a bad
// launch configuration) is rejected here too, so the backend's error handling is exercised in
// tests.
#include <cstring>
#include <string>

#include "kernels/simt/runtime_state.h"

namespace llm::simt {
namespace {

std::size_t parse_bytes(const char* text, std::size_t fallback) {
  try {
    std::size_t pos = 0;
    std::size_t value = std::stoull(text, &pos);
    switch (text[pos]) {
      case 'G':
      case 'g':
        value <<= 30;
        break;
      case 'M':
      case 'm':
        value <<= 20;
        break;
      case 'K':
      case 'k':
        value <<= 10;
        break;
      default:
        break;
    }
    return value;
  } catch (...) {
    return fallback;
  }
}

}  // namespace

State::State() {
  const char* mem = std::getenv("LLM_SIMT_DEVICE_MEMORY");
  total = mem ? parse_bytes(mem, std::size_t{2} << 30) : std::size_t{2} << 30;
  if (const char* s = std::getenv("LLM_SIMT_SEED")) seed = parse_bytes(s, seed);
}

State& state() {
  static State s;
  return s;
}

thread_local cudaError_t tl_last_error = cudaSuccess;
thread_local int tl_device = 0;
thread_local int tl_strict_captures = 0;
std::atomic<int> g_global_captures{0};
bool unsafe_call_refused() {
  return tl_strict_captures > 0 || g_global_captures.load() > 0;
}

std::size_t rounded_size(std::size_t size) {
  return (size + kAlignment - 1) / kAlignment * kAlignment;
}

cudaError_t fail(cudaError_t err) {
  tl_last_error = err;
  return err;
}

bool capturing(cudaStream_t stream) {
  return stream != nullptr && stream != cudaStreamLegacy && stream != cudaStreamPerThread &&
         stream->capture != nullptr;
}

cudaError_t invalidate_capture(cudaStream_t stream, cudaError_t err) {
  if (capturing(stream)) {
    stream->capture->clear();
    stream->capture->push_back(nullptr);  // marks the capture invalidated
  }
  return fail(err);
}

bool valid_stream(State& s, cudaStream_t stream) {
  if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread) return true;
  return s.find(s.streams, stream) != s.streams.end();
}

bool record_if_capturing(cudaStream_t stream, std::function<void()> work) {
  std::lock_guard lock(state().mu);
  if (!capturing(stream)) return false;
  stream->capture->push_back(std::move(work));
  return true;
}

void set_device_memory_bytes(std::size_t bytes) {
  std::lock_guard lock(state().mu);
  state().total = bytes;
}
std::size_t device_memory_bytes() {
  std::lock_guard lock(state().mu);
  return state().total;
}
std::size_t device_memory_used() {
  std::lock_guard lock(state().mu);
  return state().used[static_cast<std::size_t>(tl_device)];
}
void set_schedule_seed(std::uint64_t seed) {
  std::lock_guard lock(state().mu);
  state().seed = seed;
}
std::uint64_t schedule_seed() {
  std::lock_guard lock(state().mu);
  return state().seed;
}
void record_launch_error(cudaError_t err) {
  fail(err);
}
std::size_t max_dynamic_shared_bytes(const void* kernel) {
  std::lock_guard lock(state().mu);
  const auto it = state().shared_limits.find(kernel);
  return it == state().shared_limits.end() ? kDefaultSharedLimit : it->second;
}

}  // namespace llm::simt

using llm::simt::fail;
using llm::simt::state;

// --- memory -------------------------------------------------------------------------------

cudaError_t cudaMalloc(void** ptr, size_t size) {
  if (ptr == nullptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (llm::simt::unsafe_call_refused()) return fail(cudaErrorStreamCaptureUnsupported);
  if (size == 0) return cudaSuccess;
  auto& s = state();
  std::lock_guard lock(s.mu);
  const std::size_t rounded = llm::simt::rounded_size(size);
  std::size_t& used = s.used[static_cast<std::size_t>(llm::simt::tl_device)];
  if (rounded > s.total - std::min(s.total, used)) return fail(cudaErrorMemoryAllocation);
  llm::simt::install_fault_report();
  llm::simt::GuardedAllocation buf(rounded);
  if (!buf.data()) return fail(cudaErrorMemoryAllocation);
  std::memset(buf.data(), 0xFF, rounded);  // uninitialised device memory reads as NaN
  auto* base = static_cast<std::byte*>(buf.data());
  s.device.emplace(base, llm::simt::Allocation{size, llm::simt::tl_device, std::move(buf)});
  used += rounded;
  *ptr = base;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  auto& s = state();
  std::lock_guard lock(s.mu);
  const auto it = s.device.find(static_cast<const std::byte*>(ptr));
  if (it == s.device.end()) return fail(cudaErrorInvalidValue);
  s.used[static_cast<std::size_t>(it->second.device)] -= llm::simt::rounded_size(it->second.size);
  s.device.erase(it);
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int /*flags*/) {
  if (ptr == nullptr) return fail(cudaErrorInvalidValue);
  const std::size_t rounded = (std::max<size_t>(size, 1) + 63) / 64 * 64;
  llm::simt::Buffer buf(std::aligned_alloc(64, rounded));
  if (!buf) return fail(cudaErrorMemoryAllocation);
  *ptr = buf.get();
  std::lock_guard lock(state().mu);
  state().pinned.emplace(buf.get(), std::move(buf));
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t size) {
  return cudaHostAlloc(ptr, size, 0);
}

cudaError_t cudaFreeHost(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  std::lock_guard lock(state().mu);
  if (state().pinned.erase(ptr) == 0) return fail(cudaErrorInvalidValue);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  if (free == nullptr || total == nullptr) return fail(cudaErrorInvalidValue);
  std::lock_guard lock(state().mu);
  const std::size_t used = state().used[static_cast<std::size_t>(llm::simt::tl_device)];
  *total = state().total;
  *free = state().total - std::min(state().total, used);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (count == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return fail(cudaErrorInvalidValue);
  auto& s = state();
  {
    std::lock_guard lock(s.mu);
    const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) {
      return fail(cudaErrorInvalidMemcpyDirection);
    }
    if ((dst_dev && !s.is_device_range(dst, count)) ||
        (src_dev && !s.is_device_range(src, count))) {
      return fail(cudaErrorInvalidValue);
    }
  }
  std::memmove(dst, src, count);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  {
    std::lock_guard lock(state().mu);
    if (!llm::simt::valid_stream(state(), stream)) return fail(cudaErrorInvalidResourceHandle);
  }
  if (llm::simt::capturing(stream)) {
    // Host memory is pageable here: CUDA cannot capture a copy to or from it.
    if (kind != cudaMemcpyDeviceToDevice) {
      return llm::simt::invalidate_capture(stream, cudaErrorStreamCaptureUnsupported);
    }
    llm::simt::record_if_capturing(stream, [=] { cudaMemcpy(dst, src, count, kind); });
    return cudaSuccess;
  }
  return cudaMemcpy(dst, src, count, kind);
}

cudaError_t cudaMemset(void* ptr, int value, size_t count) {
  if (count == 0) return cudaSuccess;
  {
    std::lock_guard lock(state().mu);
    if (!state().is_device_range(ptr, count)) return fail(cudaErrorInvalidValue);
  }
  std::memset(ptr, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
  {
    std::lock_guard lock(state().mu);
    if (!llm::simt::valid_stream(state(), stream)) return fail(cudaErrorInvalidResourceHandle);
  }
  if (llm::simt::record_if_capturing(stream, [=] { cudaMemset(ptr, value, count); })) {
    return cudaSuccess;
  }
  return cudaMemset(ptr, value, count);
}

// --- the device ---------------------------------------------------------------------------

cudaError_t cudaDeviceSynchronize() {
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return fail(cudaErrorInvalidValue);
  *count = llm::simt::kDevices;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= llm::simt::kDevices) return fail(cudaErrorInvalidDevice);
  llm::simt::tl_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return fail(cudaErrorInvalidValue);
  *device = llm::simt::tl_device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (prop == nullptr) return fail(cudaErrorInvalidValue);
  if (device < 0 || device >= llm::simt::kDevices) return fail(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::strncpy(prop->name, "llm SIMT emulator (host)", sizeof(prop->name) - 1);
  prop->totalGlobalMem = llm::simt::device_memory_bytes();
  prop->sharedMemPerBlock = llm::simt::kDefaultSharedLimit;
  prop->sharedMemPerBlockOptin = llm::simt::kSharedOptIn;
  prop->sharedMemPerMultiprocessor = llm::simt::kSharedOptIn + 1024;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->maxThreadsPerMultiProcessor = 1536;
  prop->multiProcessorCount = 8;
  prop->major = 8;
  prop->minor = 6;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (value == nullptr) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock:
      *value = prop.maxThreadsPerBlock;
      break;
    case cudaDevAttrWarpSize:
      *value = prop.warpSize;
      break;
    case cudaDevAttrMultiProcessorCount:
      *value = prop.multiProcessorCount;
      break;
    case cudaDevAttrComputeCapabilityMajor:
      *value = prop.major;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *value = prop.minor;
      break;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = static_cast<int>(prop.sharedMemPerBlock);
      break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(prop.sharedMemPerBlockOptin);
      break;
    default:
      return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (func == nullptr) return fail(cudaErrorInvalidDeviceFunction);
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      static_cast<std::size_t>(value) > llm::simt::kSharedOptIn) {
    return fail(cudaErrorInvalidValue);
  }
  std::lock_guard lock(state().mu);
  state().shared_limits[func] = static_cast<std::size_t>(value);
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  const cudaError_t err = llm::simt::tl_last_error;
  llm::simt::tl_last_error = cudaSuccess;
  return err;
}

cudaError_t cudaPeekAtLastError() {
  return llm::simt::tl_last_error;
}
