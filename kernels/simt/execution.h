// The CUDA execution model on the host: built-in indices, barriers, warp shuffles and votes,
// and the launch behind LLM_LAUNCH. Included through kernels/simt/simt.h.
//
// Each block's threads run as fibers on one OS thread. Every barrier and warp-level operation
// is a point where the fiber stops; once no thread can go on, the waiting operations complete
// and the threads resume in a freshly shuffled order, so code that leans on an unsynchronised
// order of execution (a missing __syncthreads, a wrong shuffle mask) gets wrong answers here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>

// Set by the emulator before each thread of a block resumes (constinit: plain TLS reads).
extern thread_local constinit uint3 threadIdx;
extern thread_local constinit uint3 blockIdx;
extern thread_local constinit dim3 blockDim;
extern thread_local constinit dim3 gridDim;
inline constexpr int warpSize = 32;

namespace llm::simt {

// Warp-level operations; the emulator resolves them among the lanes that wait at the same kind
// of operation with the same mask.
enum class WarpOp : std::uint8_t {
  kSync,
  kShflIdx,
  kShflUp,
  kShflDown,
  kShflXor,
  kVote,
  kActive,
  kCollective,  // mma.sync, ldmatrix: one function computes every lane's result
};

struct WarpResult {
  std::uint64_t bits = 0;  // the source lane's value (shuffles), the ballot (votes)
  bool valid = false;      // false: the source lane did not take part; the result is poison
};

namespace detail {

// Blocks until every lane in `mask` reached a warp operation. `b` and `c` are the PTX shfl
// operands (lane/offset, and clamp | segment mask << 8). `site` separates call sites (activemask),
// 0 elsewhere.
WarpResult warp_exchange(WarpOp op, unsigned mask, std::uint64_t value, int b, int c,
                         std::uint64_t site);
// Blocks until all threads of the block arrive; returns how many arrived with pred != 0.
// SITE identifies the call site: threads waiting at different __syncthreads calls, or while
// others of the block have exited, are a divergent barrier (undefined on a GPU; reported here).
int block_barrier(int pred, std::uint64_t site);

// A warp-collective instruction (mma.sync, ldmatrix; kernels/simt/tensor_core.cpp): each lane
// passes its own operands and result pointers in `payload`; once every lane of the warp waits at
// the same collective, `fn` runs once with the 32 lanes' payloads (null for a lane that is not
// there; `present` has a bit per lane that is) and writes every lane's results.
using CollectiveFn = void (*)(void* const lanes[32], unsigned present, unsigned warp);
void warp_collective(CollectiveFn fn, void* payload);

// The cp.async copies the running thread issued and has not waited for (kernels/simt/
// async_copy.cpp keeps them; each emulated thread has its own).
struct AsyncCopies;
AsyncCopies& current_async_copies();

// Whether a kernel's thread is running on this OS thread (the fault report names it).
bool running_kernel();

inline std::uint64_t site_key(const std::source_location& site) {
  return (reinterpret_cast<std::uintptr_t>(site.file_name()) << 20) ^
         (std::uint64_t{site.line()} << 8) ^ site.column() ^ 1;
}

// What a shuffle returns when its source lane did not take part: NaN for floating types,
// all ones for 2-byte types (a NaN as bf16 and f16), a 0xDEADBEEF pattern otherwise.
template <typename T>
T poison() {
  if constexpr (std::is_floating_point_v<T>) {
    return std::numeric_limits<T>::quiet_NaN();
  } else {
    std::uint64_t bits = sizeof(T) == 2 ? 0xFFFFu : 0xDEADBEEFDEADBEEFull;
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
  }
}

template <typename T>
T shuffle(WarpOp op, unsigned mask, T var, int b, int c) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "warp shuffles move at most 8 bytes of a trivially copyable type");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  const WarpResult r = warp_exchange(op, mask, bits, b, c, 0);
  if (!r.valid) return poison<T>();
  T out;
  std::memcpy(&out, &r.bits, sizeof(T));
  return out;
}

// CUDA's encoding of `width` into the shfl.sync c operand (see __shfl_sync in sm_30_intrinsics).
constexpr int shfl_c(int width, bool clamp_high) {
  return ((warpSize - width) << 8) | (clamp_high ? 0x1f : 0);
}

}  // namespace detail

struct LaunchConfig {
  dim3 grid;
  dim3 block;
  std::size_t shared_bytes = 0;
  cudaStream_t stream = nullptr;
  const void* kernel = nullptr;  // identifies the kernel for cudaFuncSetAttribute limits
};

// Work issued to `stream` while it is being captured into a graph is recorded instead of run:
// returns true when `work` was recorded (run it now otherwise). Used by launches, cuBLAS and NCCL.
bool record_if_capturing(cudaStream_t stream, std::function<void()> work);

// Runs body(ctx) as every thread of every block; an invalid configuration is reported through
// cudaGetLastError and nothing runs, as with <<<>>>.
void run_grid(const LaunchConfig& config, void (*body)(void*), void* ctx);

// The running block's dynamic shared memory (poisoned with 0xFF bytes when the block starts).
void* dynamic_shared_memory();
// A block's static shared array (LLM_SHARED): the same memory for every thread of the block
// asking at `site`, poisoned when the block first asks. Over 48 KB of static shared memory in
// one block, or over the device's limit with the dynamic memory, fails the launch.
struct SharedSite {
  const char* file;
  int line;
};
void* static_shared_memory(SharedSite site, std::size_t bytes, std::size_t align);

// Whether [p, p + bytes) lies inside it (ldmatrix and cp.async check their shared operands).
bool in_dynamic_shared_memory(const void* p, std::size_t bytes);

// The emulated `kernel<<<grid, block, shared_bytes, stream>>>(args...)`: the arguments are
// converted to the kernel's parameter types once and every thread gets a copy of them.
template <typename... P, typename... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t shared_bytes,
            cudaStream_t stream, A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "wrong number of kernel arguments");
  struct Call {
    void (*kernel)(P...);
    std::tuple<std::decay_t<P>...> params;
    static void body(void* p) {
      auto* c = static_cast<Call*>(p);
      std::apply(c->kernel, c->params);
    }
  };
  Call call{kernel, std::tuple<std::decay_t<P>...>(std::forward<A>(args)...)};
  const LaunchConfig config{grid, block, shared_bytes, stream,
                            reinterpret_cast<const void*>(kernel)};
  // In a graph, the arguments are the ones given at capture, as on a GPU.
  if (record_if_capturing(stream,
                          [config, call]() mutable { run_grid(config, &Call::body, &call); })) {
    return;
  }
  run_grid(config, &Call::body, &call);
}

}  // namespace llm::simt

// --- CUDA's block- and warp-level intrinsics -------------------------------------------------

// (The source_location defaults give each call site its own key; real CUDA code calls these
// with the usual arguments.)
inline void __syncthreads(std::source_location s = std::source_location::current()) {
  llm::simt::detail::block_barrier(0, llm::simt::detail::site_key(s));
}
inline int __syncthreads_count(int pred, std::source_location s = std::source_location::current()) {
  return llm::simt::detail::block_barrier(pred != 0, llm::simt::detail::site_key(s));
}
inline int __syncthreads_and(int pred, std::source_location s = std::source_location::current()) {
  return llm::simt::detail::block_barrier(pred == 0, llm::simt::detail::site_key(s)) == 0;
}
inline int __syncthreads_or(int pred, std::source_location s = std::source_location::current()) {
  return llm::simt::detail::block_barrier(pred != 0, llm::simt::detail::site_key(s)) != 0;
}

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  llm::simt::detail::warp_exchange(llm::simt::WarpOp::kSync, mask, 0, 0, 0, 0);
}

template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  return llm::simt::detail::shuffle(llm::simt::WarpOp::kShflIdx, mask, var, src_lane,
                                    llm::simt::detail::shfl_c(width, true));
}
template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return llm::simt::detail::shuffle(llm::simt::WarpOp::kShflUp, mask, var, static_cast<int>(delta),
                                    llm::simt::detail::shfl_c(width, false));
}
template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return llm::simt::detail::shuffle(llm::simt::WarpOp::kShflDown, mask, var,
                                    static_cast<int>(delta),
                                    llm::simt::detail::shfl_c(width, true));
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  return llm::simt::detail::shuffle(llm::simt::WarpOp::kShflXor, mask, var, lane_mask,
                                    llm::simt::detail::shfl_c(width, true));
}

// Votes: one ballot serves all three. A lane in `mask` that is alive but did not arrive makes
// the ballot bit 1 (and __all_sync false), so a wrong mask shows up in the result.
inline unsigned __ballot_sync(unsigned mask, int pred) {
  return static_cast<unsigned>(
      llm::simt::detail::warp_exchange(llm::simt::WarpOp::kVote, mask, pred != 0, 0, 0, 0).bits);
}
inline int __any_sync(unsigned mask, int pred) {
  return __ballot_sync(mask, pred) != 0;
}
inline int __all_sync(unsigned mask, int pred) {
  // A lane votes "not pred" in a ballot; any set bit (or a poisoned, absent lane) means false.
  return llm::simt::detail::warp_exchange(llm::simt::WarpOp::kVote, mask, pred == 0, 0, 0, 0)
             .bits == 0;
}
// The lanes that reached this same call site together (lanes in other branches are not active).
inline unsigned __activemask(std::source_location site = std::source_location::current()) {
  return static_cast<unsigned>(llm::simt::detail::warp_exchange(llm::simt::WarpOp::kActive,
                                                                0xffffffffu, 0, 0, 0,
                                                                llm::simt::detail::site_key(site))
                                   .bits);
}
