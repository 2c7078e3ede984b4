// The emulated CUDA runtime's shared state, for the files that implement it (runtime.cpp:
// memory and the device; streams.cpp: streams, events and graphs). Not for kernels or the
// backend: they see only the CUDA API.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "kernels/cuda/cuda_api.h"
#include "kernels/simt/guarded_memory.h"

struct CUstream_st {
  unsigned flags = 0;
  // Set between cudaStreamBeginCapture and cudaStreamEndCapture: work issued to the stream is
  // recorded here instead of running.
  std::unique_ptr<std::vector<std::function<void()>>> capture;
  cudaStreamCaptureMode capture_mode = cudaStreamCaptureModeGlobal;
};
// A captured graph and its instantiation: the recorded work, replayed in issue order (the
// emulator runs everything in order, so a graph is a list).
struct CUgraph_st {
  std::vector<std::function<void()>> work;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> work;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point time;
  bool recorded = false;
};

namespace llm::simt {

constexpr std::size_t kAlignment = 256;                 // cudaMalloc's guarantee
constexpr std::size_t kDefaultSharedLimit = 48 * 1024;  // without cudaFuncSetAttribute
constexpr std::size_t kSharedOptIn = 101376;            // sm_86/sm_89, the smallest of our targets

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};
using Buffer = std::unique_ptr<void, FreeDeleter>;

struct Allocation {
  std::size_t size = 0;
  int device = 0;
  GuardedAllocation memory;
};

struct State {
  std::mutex mu;
  std::size_t total = 0;                          // per device
  std::array<std::size_t, kDevices> used{};       // per device, rounded to kAlignment
  std::map<const std::byte*, Allocation> device;  // base -> allocation
  std::map<const void*, Buffer> pinned;
  std::set<std::unique_ptr<CUstream_st>> streams;
  std::set<std::unique_ptr<CUevent_st>> events;
  std::set<std::unique_ptr<CUgraph_st>> graphs;
  std::set<std::unique_ptr<CUgraphExec_st>> graph_execs;
  std::map<const void*, std::size_t> shared_limits;
  std::uint64_t seed = 0x5eed;

  State();  // sizes from LLM_SIMT_DEVICE_MEMORY and LLM_SIMT_SEED

  // True when [p, p + n) lies inside one device allocation.
  bool is_device_range(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    auto it = device.upper_bound(b);
    if (it == device.begin()) return false;
    --it;
    return b >= it->first && b + n <= it->first + it->second.size;
  }

  template <typename Set, typename Ptr>
  auto find(Set& set, Ptr* p) {
    return std::find_if(set.begin(), set.end(), [p](const auto& u) { return u.get() == p; });
  }

  // Releases the handle `p` held in `set`; false when it is not one of them.
  template <typename Set, typename Ptr>
  bool release(Set& set, Ptr* p) {
    const auto it = find(set, p);
    if (it == set.end()) return false;
    set.erase(it);
    return true;
  }
};

// The process's one runtime state.
State& state();

extern thread_local cudaError_t tl_last_error;
extern thread_local int tl_device;  // cudaSetDevice's, per host thread as in CUDA
// Calls unsafe during capture (cudaMalloc, synchronisation) fail, as on a GPU, while this
// thread has a global or thread-local capture open, or any thread has a global one open: the
// global mode reaches across threads, so ranks on several threads must capture thread-locally.
extern thread_local int tl_strict_captures;
extern std::atomic<int> g_global_captures;
bool unsafe_call_refused();

std::size_t rounded_size(std::size_t size);  // to cudaMalloc's alignment
// Sets the calling thread's last error and returns it.
cudaError_t fail(cudaError_t err);
bool capturing(cudaStream_t stream);
// Ends a capture that failed: CUDA invalidates it, and so does the emulator.
cudaError_t invalidate_capture(cudaStream_t stream, cudaError_t err);
// The default streams, or one cudaStreamCreate made and not yet destroyed (s.mu held).
bool valid_stream(State& s, cudaStream_t stream);

}  // namespace llm::simt
