// The block scheduler: a block's threads as Boost.Context fibers on one OS thread, resumed in a
// shuffled order at every barrier and warp-level operation (see execution.h for why).

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <random>
#include <vector>

#include "kernels/cuda/cuda_api.h"
#include "kernels/simt/async_copy.h"
#include "kernels/simt/stacks.h"

thread_local constinit uint3 threadIdx{0, 0, 0};
thread_local constinit uint3 blockIdx{0, 0, 0};
thread_local constinit dim3 blockDim{1, 1, 1};
thread_local constinit dim3 gridDim{1, 1, 1};

namespace llm::simt {
namespace {

namespace ctx = boost::context;

// A small, fast generator for std::shuffle; reseeded per block.
struct SplitMix64 {
  using result_type = std::uint64_t;
  std::uint64_t state;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

enum class Wait : std::uint8_t { kRunnable, kBarrier, kWarp, kDone };

struct Thread {
  ctx::fiber fiber;      // the thread's own context while it is suspended
  ctx::fiber scheduler;  // the scheduler's context while the thread runs
  uint3 idx{};
  Wait wait = Wait::kRunnable;
  // The pending warp operation (kWarp) or barrier predicate (kBarrier).
  WarpOp op = WarpOp::kSync;
  unsigned mask = 0;
  std::uint64_t value = 0;
  int b = 0, c = 0;
  std::uint64_t site = 0;
  WarpResult result;
  int barrier_pred = 0;
  int barrier_count = 0;
  std::uint64_t barrier_site = 0;
  detail::AsyncCopies copies;  // cp.async state (kernels/simt/async_copy.cpp)
};

// One block in flight on this OS thread.
struct Block {
  std::vector<Thread> threads;  // indexed by linear thread id; never reallocated while running
  std::vector<Thread*> runnable;
  std::vector<Thread*> at_warp;
  std::vector<Thread*> at_barrier;
  Thread* current = nullptr;
  SplitMix64 rng{0};
  bool divergent = false;  // a divergent barrier was reported (once per launch)
};

thread_local Block* tl_block = nullptr;

// 0xFF bytes read as NaN in f32, bf16 and f16: unwritten shared memory is noticed.
struct SharedBuffer {
  std::vector<std::max_align_t> storage;
  void* prepare(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    const std::size_t words = (bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
    if (storage.size() < words) storage.resize(words);
    std::memset(storage.data(), 0xFF, bytes);
    return storage.data();
  }
};
thread_local SharedBuffer tl_shared;
thread_local void* tl_shared_ptr = nullptr;
thread_local std::size_t tl_shared_bytes = 0;

// The running block's static shared memory (LLM_SHARED): one arena per OS thread, handed out
// anew to each block in the order its threads first ask.
constexpr std::size_t kStaticSharedLimit = 48 * 1024;
constexpr std::size_t kSharedPerBlockLimit = 101376;  // sm_86/sm_89, the smallest of our targets
struct StaticShared {
  alignas(64) std::array<std::byte, kStaticSharedLimit> arena{};
  std::size_t used = 0;
  std::vector<std::pair<SharedSite, std::size_t>> sites;  // site -> offset, this block
  std::vector<std::unique_ptr<std::byte[]>> overflow;     // past the limit (the launch fails)
  void reset() {
    used = 0;
    sites.clear();
    overflow.clear();
  }
};
thread_local StaticShared tl_static_shared;

std::atomic<std::uint64_t> g_launch_counter{0};

// Suspends the running thread until the scheduler resumes it.
void suspend(Thread* t) {
  t->scheduler = std::move(t->scheduler).resume();
}

void resume(Block& block, Thread* t) {
  threadIdx = t->idx;
  block.current = t;
  t->wait = Wait::kRunnable;
  t->fiber = std::move(t->fiber).resume();
  block.current = nullptr;
}

// PTX shfl.sync source lane for lane `lane`; returns -1 when the lane keeps its own value.
int shuffle_source(WarpOp op, int lane, int b, int c) {
  const int clamp = c & 0x1f;
  const int segmask = (c >> 8) & 0x1f;
  const int max_lane = (lane & segmask) | (clamp & ~segmask);
  const int min_lane = lane & segmask;
  int j = lane;
  bool in_range = true;
  switch (op) {
    case WarpOp::kShflUp:
      j = lane - b;
      in_range = j >= max_lane;
      break;
    case WarpOp::kShflDown:
      j = lane + b;
      in_range = j <= max_lane;
      break;
    case WarpOp::kShflXor:
      j = lane ^ (b & 0x1f);
      in_range = j <= max_lane;
      break;
    default:  // kShflIdx
      j = min_lane | (b & 0x1f & ~segmask);
      in_range = j <= max_lane;
      break;
  }
  return in_range ? j : lane;
}

// Completes the pending warp operations of a random, non-empty subset of the warps that have
// them; the other warps stay where they are for now. Warps therefore drift apart as they would
// on a GPU, where nothing keeps them in step between barriers: a warp that refills shared memory
// another warp is still reading (a missing __syncthreads) is caught instead of hidden by
// lockstep. A lane takes part in lane i's operation when it waits at the same kind of operation
// with the same mask (and call site), and both lanes are in the mask; anything read from a lane
// that does not take part is poison.
void resolve_warp_ops(Block& block) {
  const int n = static_cast<int>(block.threads.size());
  std::uint64_t pending = 0, chosen = 0;  // warps with operations (a block has at most 32)
  for (const Thread* t : block.at_warp) pending |= 1ull << ((t - block.threads.data()) / 32);
  chosen = pending & block.rng();
  if (chosen == 0) {
    // At least one: the k-th pending warp, k at random.
    int k = static_cast<int>(block.rng() % static_cast<unsigned>(std::popcount(pending)));
    for (std::uint64_t rest = pending;; rest &= rest - 1) {
      if (k-- == 0) {
        chosen = rest & -rest;
        break;
      }
    }
  }
  std::vector<Thread*> waiting;
  for (Thread* t : block.at_warp) {
    if (((chosen >> ((t - block.threads.data()) / 32)) & 1u) == 0) waiting.push_back(t);
  }
  for (Thread* t : block.at_warp) {
    if (((chosen >> ((t - block.threads.data()) / 32)) & 1u) == 0) continue;
    const int linear = static_cast<int>(t - block.threads.data());
    const int base = linear & ~31, lane = linear & 31;
    auto takes_part = [&](int j) {
      if (base + j >= n || !((t->mask >> j) & 1u)) return false;
      const Thread& o = block.threads[static_cast<std::size_t>(base + j)];
      return o.wait == Wait::kWarp && o.op == t->op && o.mask == t->mask && o.site == t->site;
    };
    auto exited = [&](int j) {
      return base + j >= n || block.threads[static_cast<std::size_t>(base + j)].wait == Wait::kDone;
    };
    WarpResult r;
    const bool self_in_mask = (t->mask >> lane) & 1u;
    if (t->op == WarpOp::kCollective) {
      // Once per warp: by the lowest lane that takes part.
      bool lowest = true;
      for (int j = 0; j < lane && lowest; ++j) lowest = !takes_part(j);
      if (lowest) {
        void* lanes[32] = {};
        unsigned present = 0;
        for (int j = 0; j < 32; ++j) {
          if (!takes_part(j)) continue;
          lanes[j] = reinterpret_cast<void*>(
              static_cast<std::uintptr_t>(block.threads[static_cast<std::size_t>(base + j)].value));
          present |= 1u << j;
        }
        reinterpret_cast<detail::CollectiveFn>(static_cast<std::uintptr_t>(t->site))(
            lanes, present, static_cast<unsigned>(base / 32));
      }
      continue;
    }
    switch (t->op) {
      case WarpOp::kSync:
        r.valid = self_in_mask;
        break;
      case WarpOp::kVote:
      case WarpOp::kActive: {
        std::uint64_t bits = 0;
        for (int j = 0; j < 32; ++j) {
          if (!((t->mask >> j) & 1u)) continue;
          if (takes_part(j)) {
            const Thread& o = block.threads[static_cast<std::size_t>(base + j)];
            if (t->op == WarpOp::kActive || o.value != 0) bits |= 1ull << j;
          } else if (t->op == WarpOp::kVote && !exited(j)) {
            bits |= 1ull << j;  // alive, in the mask, elsewhere: a wrong mask must show
          }
        }
        r.bits = self_in_mask ? bits : 0xDEADBEEFu;
        r.valid = self_in_mask;
        break;
      }
      default: {
        const int j = shuffle_source(t->op, lane, t->b, t->c);
        if (self_in_mask && takes_part(j)) {
          r.bits = block.threads[static_cast<std::size_t>(base + j)].value;
          r.valid = true;
        }
        break;
      }
    }
    t->result = r;
  }
  // Only now: resolution above reads the other lanes' pending state.
  for (Thread* t : block.at_warp) {
    if ((chosen >> ((t - block.threads.data()) / 32)) & 1u) block.runnable.push_back(t);
  }
  for (Thread* t : block.runnable) t->wait = Wait::kRunnable;
  block.at_warp = std::move(waiting);
}

// Every thread of the block that has not exited must wait at the same __syncthreads; otherwise
// the launch fails (cudaErrorLaunchFailure, as compute-sanitizer's synccheck would flag it) and
// the waiting threads go on so the block can end.
void check_barrier(Block& block) {
  std::size_t exited = 0;
  for (const Thread& t : block.threads) exited += t.wait == Wait::kDone;
  const Thread* first = block.at_barrier.front();
  const Thread* other = nullptr;
  for (const Thread* t : block.at_barrier) {
    if (t->barrier_site != first->barrier_site) other = t;
  }
  if ((exited == 0 && other == nullptr) || block.divergent) return;
  block.divergent = true;
  if (other) {
    std::fprintf(stderr,
                 "simt: divergent __syncthreads in block (%u,%u,%u): thread (%u,%u,%u) and thread "
                 "(%u,%u,%u) wait at different call sites\n",
                 blockIdx.x, blockIdx.y, blockIdx.z, first->idx.x, first->idx.y, first->idx.z,
                 other->idx.x, other->idx.y, other->idx.z);
  } else {
    const Thread* gone = nullptr;
    for (const Thread& t : block.threads) {
      if (t.wait == Wait::kDone && !gone) gone = &t;
    }
    std::fprintf(stderr,
                 "simt: divergent __syncthreads in block (%u,%u,%u): thread (%u,%u,%u) waits while "
                 "%zu thread(s) of the block have exited, thread (%u,%u,%u) among them\n",
                 blockIdx.x, blockIdx.y, blockIdx.z, first->idx.x, first->idx.y, first->idx.z,
                 exited, gone->idx.x, gone->idx.y, gone->idx.z);
  }
  record_launch_error(cudaErrorLaunchFailure);
}

void release_barrier(Block& block) {
  check_barrier(block);
  int count = 0;
  for (Thread* t : block.at_barrier) count += t->barrier_pred;
  for (Thread* t : block.at_barrier) {
    t->barrier_count = count;
    block.runnable.push_back(t);
  }
  block.at_barrier.clear();
}

void run_block(Block& block, void (*body)(void*), void* arg, std::size_t nthreads) {
  block.threads.clear();
  block.threads.resize(nthreads);
  block.runnable.clear();
  for (std::size_t i = 0; i < nthreads; ++i) {
    Thread& t = block.threads[i];
    const auto lin = static_cast<unsigned>(i);
    t.idx =
        uint3{lin % blockDim.x, (lin / blockDim.x) % blockDim.y, lin / (blockDim.x * blockDim.y)};
    t.fiber = ctx::fiber(std::allocator_arg, PooledStack{}, [&t, body, arg](ctx::fiber&& sched) {
      t.scheduler = std::move(sched);
      body(arg);
      t.wait = Wait::kDone;
      return std::move(t.scheduler);
    });
    block.runnable.push_back(&t);
  }
  while (!block.runnable.empty()) {
    std::shuffle(block.runnable.begin(), block.runnable.end(), block.rng);
    for (Thread* t : block.runnable) resume(block, t);
    block.runnable.clear();
    if (!block.at_warp.empty()) {
      resolve_warp_ops(block);
    } else if (!block.at_barrier.empty()) {
      release_barrier(block);
    }
  }
}

cudaError_t check_config(const LaunchConfig& c) {
  const dim3 g = c.grid, b = c.block;
  if (b.x == 0 || b.y == 0 || b.z == 0 || b.x > 1024 || b.y > 1024 || b.z > 64 ||
      static_cast<unsigned long long>(b.x) * b.y * b.z > 1024) {
    return cudaErrorInvalidConfiguration;
  }
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 0x7fffffffu || g.y > 65535 || g.z > 65535) {
    return cudaErrorInvalidConfiguration;
  }
  if (c.shared_bytes > max_dynamic_shared_bytes(c.kernel)) return cudaErrorInvalidValue;
  return cudaSuccess;
}

}  // namespace

namespace detail {

WarpResult warp_exchange(WarpOp op, unsigned mask, std::uint64_t value, int b, int c,
                         std::uint64_t site) {
  Block* block = tl_block;
  Thread* t = block->current;
  t->wait = Wait::kWarp;
  t->op = op;
  t->mask = mask;
  t->value = value;
  t->b = b;
  t->c = c;
  t->site = site;
  block->at_warp.push_back(t);
  suspend(t);
  return t->result;
}

void warp_collective(CollectiveFn fn, void* payload) {
  // Lanes match on the function (kept in `site`): lanes at another collective are not present.
  warp_exchange(WarpOp::kCollective, 0xffffffffu,
                static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(payload)), 0, 0,
                static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(fn)));
}

bool running_kernel() {
  return tl_block != nullptr && tl_block->current != nullptr;
}

AsyncCopies& current_async_copies() {
  return tl_block->current->copies;
}

int block_barrier(int pred, std::uint64_t site) {
  Block* block = tl_block;
  Thread* t = block->current;
  t->wait = Wait::kBarrier;
  t->barrier_pred = pred;
  t->barrier_site = site;
  block->at_barrier.push_back(t);
  suspend(t);
  return t->barrier_count;
}

}  // namespace detail

void* dynamic_shared_memory() {
  return tl_shared_ptr;
}

void* static_shared_memory(SharedSite site, std::size_t bytes, std::size_t align) {
  StaticShared& s = tl_static_shared;
  for (const auto& [known, offset] : s.sites) {
    if (known.line == site.line &&
        (known.file == site.file || std::strcmp(known.file, site.file) == 0)) {
      return offset == SIZE_MAX ? s.overflow.back().get() : s.arena.data() + offset;
    }
  }
  const std::size_t offset = (s.used + align - 1) / align * align;
  if (offset + bytes > kStaticSharedLimit ||
      offset + bytes + tl_shared_bytes > kSharedPerBlockLimit) {
    std::fprintf(stderr,
                 "simt: static shared memory of block (%u,%u,%u) exceeds its limit: %zu bytes "
                 "(%s:%d asks %zu) beside %zu dynamic; at most %zu static, %zu in all\n",
                 blockIdx.x, blockIdx.y, blockIdx.z, offset + bytes, site.file, site.line, bytes,
                 tl_shared_bytes, kStaticSharedLimit, kSharedPerBlockLimit);
    record_launch_error(cudaErrorLaunchOutOfResources);
    s.overflow.push_back(std::make_unique<std::byte[]>(bytes));
    s.sites.emplace_back(site, SIZE_MAX);
    return s.overflow.back().get();
  }
  s.used = offset + bytes;
  s.sites.emplace_back(site, offset);
  std::memset(s.arena.data() + offset, 0xFF, bytes);  // unwritten shared memory reads as NaN
  return s.arena.data() + offset;
}

bool in_dynamic_shared_memory(const void* p, std::size_t bytes) {
  const auto* b = static_cast<const unsigned char*>(tl_shared_ptr);
  const auto* q = static_cast<const unsigned char*>(p);
  return b != nullptr && q >= b && q + bytes <= b + tl_shared_bytes;
}

void run_grid(const LaunchConfig& config, void (*body)(void*), void* arg) {
  if (const cudaError_t err = check_config(config); err != cudaSuccess) {
    record_launch_error(err);
    return;
  }
  const std::uint64_t launch = g_launch_counter.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t seed = schedule_seed();
  Block block;
  Block* const outer = tl_block;  // a launch from inside a kernel is not supported; keep sane
  tl_block = &block;
  gridDim = config.grid;
  blockDim = config.block;
  const std::size_t nthreads =
      static_cast<std::size_t>(config.block.x) * config.block.y * config.block.z;
  // Blocks run in a shuffled order too: a GPU promises none, so a kernel that leans on block
  // 0 running first (or on blocks finishing in index order) fails here.
  std::vector<uint3> order;
  order.reserve(static_cast<std::size_t>(config.grid.x) * config.grid.y * config.grid.z);
  for (unsigned z = 0; z < config.grid.z; ++z) {
    for (unsigned y = 0; y < config.grid.y; ++y) {
      for (unsigned x = 0; x < config.grid.x; ++x) order.push_back(uint3{x, y, z});
    }
  }
  SplitMix64 block_rng{seed ^ (launch << 20) ^ 0x5851F42D4C957F2Dull};
  std::shuffle(order.begin(), order.end(), block_rng);
  block.divergent = false;
  for (const uint3 b : order) {
    blockIdx = b;
    SplitMix64 mix{seed ^ (launch << 32) ^ (std::uint64_t{b.z} << 48)};
    block.rng = SplitMix64{mix() ^ (std::uint64_t{b.y} << 32) ^ b.x};
    tl_shared_ptr = tl_shared.prepare(config.shared_bytes);
    tl_shared_bytes = config.shared_bytes;
    tl_static_shared.reset();
    run_block(block, body, arg, nthreads);
  }
  tl_block = outer;
}

}  // namespace llm::simt
