// The emulator's execution model, specified through small kernels: barriers and shuffles must
// behave as on a GPU, and code that is wrong on a GPU (a missing __syncthreads, a wrong mask)
// must give wrong answers here instead of passing by luck of a sequential thread order.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cuda/launch.h"

namespace {

constexpr unsigned kFull = 0xffffffffu;

std::vector<float> random_nonzero(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(0.5f, 2.0f);
  std::vector<float> v(n);
  for (float& x : v) x = (rng() & 1) ? dist(rng) : -dist(rng);
  return v;
}

// Tree reduction of each block's 256 inputs in shared memory. Without the first barrier a
// thread may read its partner's slot before the partner stored into it.
template <bool kFirstBarrier>
__global__ void block_sum(const float* in, float* out) {
  LLM_SHARED(float, buf, 256);
  const unsigned t = threadIdx.x;
  buf[t] = in[blockIdx.x * blockDim.x + t];
  if (kFirstBarrier) __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) buf[t] += buf[t + s];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = buf[0];
}

// The same tree on the host: with the barrier the emulator must match it bit for bit.
float tree_sum(const float* x, unsigned n) {
  std::vector<float> b(x, x + n);
  for (unsigned s = n / 2; s > 0; s >>= 1) {
    for (unsigned t = 0; t < s; ++t) b[t] += b[t + s];
  }
  return b[0];
}

template <bool kFirstBarrier>
std::vector<float> run_block_sum(const std::vector<float>& in, unsigned blocks) {
  std::vector<float> out(blocks, NAN);
  LLM_LAUNCH(block_sum<kFirstBarrier>, blocks, 256, 0, nullptr, in.data(), out.data());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  return out;
}

TEST(SimtBarrier, BlockReductionWithBarriersIsExact) {
  const unsigned blocks = 8;
  const auto in = random_nonzero(blocks * 256, 1);
  const auto out = run_block_sum<true>(in, blocks);
  for (unsigned b = 0; b < blocks; ++b) EXPECT_EQ(out[b], tree_sum(&in[b * 256], 256)) << b;
}

TEST(SimtBarrier, MissingSyncthreadsGivesAWrongAnswerForEverySeed) {
  const unsigned blocks = 8;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    llm::simt::set_schedule_seed(seed);
    const auto in = random_nonzero(blocks * 256, static_cast<unsigned>(seed) + 10);
    const auto out = run_block_sum<false>(in, blocks);
    int wrong = 0;
    for (unsigned b = 0; b < blocks; ++b) wrong += out[b] != tree_sum(&in[b * 256], 256);
    EXPECT_GT(wrong, 0) << "seed " << seed << ": the race went unnoticed";
  }
  llm::simt::set_schedule_seed(0x5eed);
}

// Each thread reads the slot its left neighbour stored. Threads run in index order would always
// find the slot written; only a changing resume order exposes the missing barrier.
template <bool kBarrier>
__global__ void read_left_neighbour(const float* in, float* out) {
  LLM_SHARED(float, buf, 128);
  const unsigned t = threadIdx.x;
  buf[t] = in[blockIdx.x * blockDim.x + t];
  if (kBarrier) __syncthreads();
  out[blockIdx.x * blockDim.x + t] = t > 0 ? buf[t - 1] : 0.0f;
}

TEST(SimtBarrier, ThreadOrderDoesNotHideAMissingBarrier) {
  const unsigned blocks = 4, n = blocks * 128;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    llm::simt::set_schedule_seed(seed);
    const auto in = random_nonzero(n, static_cast<unsigned>(seed) + 20);
    std::vector<float> right(n, NAN), racy(n, NAN);
    LLM_LAUNCH(read_left_neighbour<true>, blocks, 128, 0, nullptr, in.data(), right.data());
    LLM_LAUNCH(read_left_neighbour<false>, blocks, 128, 0, nullptr, in.data(), racy.data());
    int wrong = 0;
    for (unsigned i = 0; i < n; ++i) {
      const float want = i % 128 == 0 ? 0.0f : in[i - 1];
      EXPECT_EQ(right[i], want) << i;
      wrong += racy[i] != want;
    }
    EXPECT_GT(wrong, 0) << "seed " << seed << ": the race went unnoticed";
  }
  llm::simt::set_schedule_seed(0x5eed);
}

TEST(SimtBarrier, SyncthreadsCountAndOr) {
  std::vector<int> out(3, -1);
  auto kernel = [](int* o) {
    const int pred = threadIdx.x % 3 == 0;
    const int count = __syncthreads_count(pred);
    const int any = __syncthreads_or(threadIdx.x == 77);
    const int all = __syncthreads_and(threadIdx.x < 1000);
    if (threadIdx.x == 5) o[0] = count, o[1] = any, o[2] = all;
  };
  void (*k)(int*) = kernel;
  LLM_LAUNCH(k, 1, 100, 0, nullptr, out.data());
  EXPECT_EQ(out, (std::vector<int>{34, 1, 1}));
}

// Butterfly sum across each warp; lane 0 of every warp stores the warp's total.
__global__ void warp_sum(const float* in, float* out, unsigned mask) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = in[i];
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(mask, v, offset);
  if (threadIdx.x % 32 == 0) out[i / 32] = v;
}

float butterfly_lane0(const float* x) {
  std::vector<float> v(x, x + 32);
  for (int offset = 16; offset > 0; offset >>= 1) {
    std::vector<float> next(32);
    for (int l = 0; l < 32; ++l) next[l] = v[l] + v[l ^ offset];
    v = next;
  }
  return v[0];
}

// A barrier only part of the block reaches is undefined on a GPU (compute-sanitizer's synccheck
// flags it); the emulator fails the launch instead of letting the waiting threads through.
__global__ void barrier_after_early_exit(float* out) {
  if (threadIdx.x < 16) return;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void barrier_at_two_sites(float* out) {
  if (threadIdx.x % 2) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1.0f;
}

// Uniform across the block (every thread takes the same branch): allowed.
__global__ void barrier_in_uniform_branch(float* out) {
  if (blockIdx.x == 0) __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = 1.0f;
}

TEST(SimtBarrier, DivergentSyncthreadsFailsTheLaunch) {
  std::vector<float> out(64, 0.0f);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  LLM_LAUNCH(barrier_after_early_exit, 1, 64, 0, nullptr, out.data());
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  LLM_LAUNCH(barrier_at_two_sites, 1, 64, 0, nullptr, out.data());
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  LLM_LAUNCH(barrier_in_uniform_branch, 2, 32, 0, nullptr, out.data());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  for (float v : out) EXPECT_EQ(v, 1.0f);
}

// Blocks start in no particular order on a GPU, and in a shuffled one here: a kernel that
// assumes block 0 runs first sees it fail.
__global__ void record_block_order(unsigned* next, unsigned* order) {
  if (threadIdx.x == 0) order[atomicAdd(next, 1u)] = blockIdx.x;
}

TEST(SimtLaunch, BlocksRunInAShuffledOrder) {
  unsigned next = 0;
  std::vector<unsigned> order(64, 0xFFFFFFFFu);
  LLM_LAUNCH(record_block_order, 64, 32, 0, nullptr, &next, order.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(next, 64u);
  std::vector<unsigned> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (unsigned b = 0; b < 64; ++b) EXPECT_EQ(sorted[b], b) << "each block runs once";
  EXPECT_NE(order, sorted) << "64 blocks in index order: the grid is not shuffled";
}

TEST(SimtWarp, ShuffleReductionWithFullMaskIsExact) {
  const auto in = random_nonzero(4 * 64, 2);
  std::vector<float> out(8, NAN);
  LLM_LAUNCH(warp_sum, 4, 64, 0, nullptr, in.data(), out.data(), kFull);
  for (int w = 0; w < 8; ++w) EXPECT_EQ(out[w], butterfly_lane0(&in[w * 32])) << w;
}

TEST(SimtWarp, ShuffleReductionWithWrongMaskIsWrong) {
  const auto in = random_nonzero(4 * 64, 3);
  std::vector<float> out(8, 0.0f);
  LLM_LAUNCH(warp_sum, 4, 64, 0, nullptr, in.data(), out.data(), 0x0000ffffu);
  for (int w = 0; w < 8; ++w) EXPECT_NE(out[w], butterfly_lane0(&in[w * 32])) << w;
}

// Each shuffle flavour with a sub-warp width, against CUDA's documented source lanes.
__global__ void shuffle_modes(int* out) {
  const int lane = static_cast<int>(threadIdx.x);
  out[0 * 32 + lane] = __shfl_sync(kFull, lane, 3, 8);
  out[1 * 32 + lane] = __shfl_up_sync(kFull, lane, 2, 16);
  out[2 * 32 + lane] = __shfl_down_sync(kFull, lane, 4, 16);
  out[3 * 32 + lane] = __shfl_xor_sync(kFull, lane, 1);
  out[4 * 32 + lane] = __shfl_sync(kFull, lane * 10, 31);
  // Only the lower half takes part, and says so: a correct partial mask is not poisoned.
  if (lane < 16) out[5 * 32 + lane] = __shfl_xor_sync(0x0000ffffu, lane, 8);
}

TEST(SimtWarp, ShuffleSourceLanesFollowCuda) {
  std::vector<int> out(6 * 32, -1);
  LLM_LAUNCH(shuffle_modes, 1, 32, 0, nullptr, out.data());
  for (int l = 0; l < 32; ++l) {
    EXPECT_EQ(out[0 * 32 + l], (l & ~7) + 3) << l;
    EXPECT_EQ(out[1 * 32 + l], l % 16 >= 2 ? l - 2 : l) << l;
    EXPECT_EQ(out[2 * 32 + l], l % 16 + 4 < 16 ? l + 4 : l) << l;
    EXPECT_EQ(out[3 * 32 + l], l ^ 1) << l;
    EXPECT_EQ(out[4 * 32 + l], 310) << l;
    EXPECT_EQ(out[5 * 32 + l], l < 16 ? l ^ 8 : -1) << l;
  }
}

__global__ void votes(unsigned* out) {
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  unsigned* o = out + warp * 8;
  const unsigned ballot = __ballot_sync(kFull, lane % 3 == 0);
  const int any = __any_sync(kFull, lane == 31);
  const int all = __all_sync(kFull, lane < 32);
  const int not_all = __all_sync(kFull, lane != 4);
  if (lane == 0) o[0] = ballot, o[1] = any, o[2] = all, o[3] = not_all;
  // Lanes 8..31 are elsewhere (a different warp op): a full-mask ballot from lanes 0..7 must
  // not look like a clean 0xff.
  if (lane < 8) {
    const unsigned partial = __ballot_sync(kFull, 1);
    if (lane == 0) o[4] = partial;
  } else {
    __syncwarp(0xffffff00u);
  }
  unsigned active;
  if (lane < 8) {
    active = __activemask();
  } else {
    active = __activemask();
  }
  if (lane == 0) o[5] = active;
  if (lane == 8) o[6] = active;
}

TEST(SimtWarp, VotesAndActiveMask) {
  std::vector<unsigned> out(16, 0);
  LLM_LAUNCH(votes, 1, 64, 0, nullptr, out.data());
  for (int w = 0; w < 2; ++w) {
    const unsigned* o = &out[w * 8];
    EXPECT_EQ(o[0], 0x49249249u);
    EXPECT_EQ(o[1], 1u);
    EXPECT_EQ(o[2], 1u);
    EXPECT_EQ(o[3], 0u);
    EXPECT_NE(o[4], 0xffu);
    EXPECT_EQ(o[5], 0x000000ffu);
    EXPECT_EQ(o[6], 0xffffff00u);
  }
}

TEST(SimtMemory, AtomicsFromManyBlocks) {
  struct Counters {
    int count = 0;
    float fsum = 0.0f;
    int max = -1;
    int cas_count = 0;
    unsigned exch = 0;
  } c;
  auto kernel = [](Counters* p) {
    const int gid = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    atomicAdd(&p->count, 1);
    atomicAdd(&p->fsum, 1.0f);
    atomicMax(&p->max, gid);
    int old = p->cas_count, assumed = 0;
    do {
      assumed = old;
      old = atomicCAS(&p->cas_count, assumed, assumed + 1);
    } while (old != assumed);
    atomicExch(&p->exch, 7u);
  };
  void (*k)(Counters*) = kernel;
  LLM_LAUNCH(k, 64, 128, 0, nullptr, &c);
  EXPECT_EQ(c.count, 64 * 128);
  EXPECT_EQ(c.fsum, 64.0f * 128.0f);
  EXPECT_EQ(c.max, 64 * 128 - 1);
  EXPECT_EQ(c.cas_count, 64 * 128);
  EXPECT_EQ(c.exch, 7u);
}

// Reverses each block's slice through dynamic shared memory.
__global__ void reverse_block(const float* in, float* out) {
  LLM_DYNAMIC_SHARED(float, s);
  const unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
  s[t] = in[base + t];
  __syncthreads();
  out[base + t] = s[blockDim.x - 1 - t];
}

__global__ void read_unwritten_shared(float* out) {
  LLM_DYNAMIC_SHARED(float, s);
  out[threadIdx.x] = s[threadIdx.x];
}

TEST(SimtMemory, DynamicSharedMemory) {
  const auto in = random_nonzero(3 * 96, 4);
  std::vector<float> out(in.size(), NAN);
  LLM_LAUNCH(reverse_block, 3, 96, 96 * sizeof(float), nullptr, in.data(), out.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (unsigned b = 0; b < 3; ++b) {
    for (unsigned t = 0; t < 96; ++t) EXPECT_EQ(out[b * 96 + t], in[b * 96 + 95 - t]);
  }
  // Shared memory starts poisoned, so reading what no thread wrote is noticed.
  std::vector<float> junk(32, 0.0f);
  LLM_LAUNCH(read_unwritten_shared, 1, 32, 32 * sizeof(float), nullptr, junk.data());
  for (float v : junk) EXPECT_TRUE(std::isnan(v));
}

__global__ void record_indices(unsigned* out) {
  const unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  const unsigned t = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  out[block * threads + t] = (blockIdx.x << 24) | (blockIdx.y << 20) | (blockIdx.z << 16) |
                             (threadIdx.x << 8) | (threadIdx.y << 4) | threadIdx.z;
}

TEST(SimtLaunch, MultiDimensionalGridAndBlock) {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  std::vector<unsigned> out(12 * 24, 0xFFFFFFFFu);
  LLM_LAUNCH(record_indices, grid, block, 0, nullptr, out.data());
  std::size_t i = 0;
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned tz = 0; tz < 2; ++tz)
          for (unsigned ty = 0; ty < 3; ++ty)
            for (unsigned tx = 0; tx < 4; ++tx, ++i)
              EXPECT_EQ(out[i], (bx << 24) | (by << 20) | (bz << 16) | (tx << 8) | (ty << 4) | tz);
}

TEST(SimtLaunch, BadConfigurationsAreReportedLikeCuda) {
  std::vector<float> out(4096, 1.0f);
  LLM_LAUNCH(read_unwritten_shared, 1, 2048, 0, nullptr, out.data());
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // read and cleared
  EXPECT_EQ(out[0], 1.0f) << "a rejected launch must not run";
  LLM_LAUNCH(read_unwritten_shared, dim3(1, 1, 0), 32, 0, nullptr, out.data());
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  // More than 48 KiB of dynamic shared memory needs the kernel's opt-in first.
  LLM_LAUNCH(read_unwritten_shared, 1, 32, 64 * 1024, nullptr, out.data());
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  ASSERT_EQ(cudaFuncSetAttribute(read_unwritten_shared, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 64 * 1024),
            cudaSuccess);
  LLM_LAUNCH(read_unwritten_shared, 1, 32, 64 * 1024, nullptr, out.data());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_TRUE(std::isnan(out[0]));
}

TEST(SimtLaunch, HostThreadsLaunchIndependently) {
  // Tensor-parallel ranks are host threads, each launching its own kernels at the same time.
  const unsigned blocks = 4;
  std::vector<std::vector<float>> ins, outs(4);
  for (unsigned r = 0; r < 4; ++r) ins.push_back(random_nonzero(blocks * 256, 30 + r));
  {
    std::vector<std::jthread> ranks;
    for (unsigned r = 0; r < 4; ++r) {
      ranks.emplace_back([&, r] { outs[r] = run_block_sum<true>(ins[r], blocks); });
    }
  }
  for (unsigned r = 0; r < 4; ++r) {
    for (unsigned b = 0; b < blocks; ++b) {
      EXPECT_EQ(outs[r][b], tree_sum(&ins[r][b * 256], 256)) << r << "," << b;
    }
  }
}

// Not a timed assertion: prints the cost of the reference workload DESIGN.md quotes.
TEST(SimtLaunch, ReductionThroughput) {
  const unsigned blocks = 64;
  const auto in = random_nonzero(blocks * 256, 5);
  const auto start = std::chrono::steady_clock::now();
  const auto out = run_block_sum<true>(in, blocks);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << "64 blocks x 256 threads block reduction: " << ms << " ms\n";
  EXPECT_EQ(out[63], tree_sum(&in[63 * 256], 256));
}

}  // namespace

namespace {

// Thread 0 reads the static shared slot before anyone writes it, then writes its block index:
// each block must find poison, never the previous block's value.
__global__ void read_then_write_static(float* seen) {
  LLM_SHARED(float, slot, 4);
  if (threadIdx.x == 0) {
    seen[blockIdx.x] = slot[0];
    slot[0] = static_cast<float>(blockIdx.x);
  }
}

TEST(SimtSharedMemory, StaticSharedMemoryIsPoisonedForEveryBlock) {
  std::vector<float> seen(6, 0.0f);
  LLM_LAUNCH(read_then_write_static, 6, 32, 0, nullptr, seen.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (float x : seen) EXPECT_TRUE(std::isnan(x)) << x;
}

// 40 KB + 16 KB of static shared memory: over the 48 KB a block may declare.
__global__ void too_much_static(float* out) {
  LLM_SHARED(float, a, 10 * 1024);
  LLM_SHARED(float, b, 4 * 1024);
  a[threadIdx.x] = 1.0f;
  b[threadIdx.x] = 2.0f;
  out[threadIdx.x] = a[threadIdx.x] + b[threadIdx.x];
}

TEST(SimtSharedMemory, OverTheStaticLimitFailsTheLaunch) {
  std::vector<float> out(32, 0.0f);
  testing::internal::CaptureStderr();
  LLM_LAUNCH(too_much_static, 1, 32, 0, nullptr, out.data());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchOutOfResources);
  EXPECT_NE(err.find("static shared memory"), std::string::npos) << err;
}

}  // namespace
