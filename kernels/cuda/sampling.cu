// Row-wise argmax and log-softmax over logits: one block per row, strided loads, warp-shuffle
// then shared-memory reductions.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/sampling.h"
// (launch.h and sampling.h bring cuda_api.h first.)
#include "kernels/cuda/common.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

namespace {

constexpr int kThreads = 256;

// The better of two (value, index) candidates: larger value, then smaller index.
__device__ inline bool better(float v, int i, float best_v, int best_i) {
  return v > best_v || (v == best_v && i < best_i);
}

}  // namespace

__global__ void argmax_kernel(const float* logits, long long vocab, int* ids) {
  LLM_SHARED(float, vals, 32);
  LLM_SHARED(int, idxs, 32);
  const float* row = logits + static_cast<long long>(blockIdx.x) * vocab;
  float best_v = -INFINITY;
  int best_i = 0x7fffffff;
  for (long long i = threadIdx.x; i < vocab; i += blockDim.x) {
    if (better(row[i], static_cast<int>(i), best_v, best_i)) {
      best_v = row[i];
      best_i = static_cast<int>(i);
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float v = __shfl_xor_sync(kFullMask, best_v, o);
    const int i = __shfl_xor_sync(kFullMask, best_i, o);
    if (better(v, i, best_v, best_i)) {
      best_v = v;
      best_i = i;
    }
  }
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) {
    vals[warp] = best_v;
    idxs[warp] = best_i;
  }
  __syncthreads();
  if (warp != 0) return;
  best_v = lane < blockDim.x / 32 ? vals[lane] : -INFINITY;
  best_i = lane < blockDim.x / 32 ? idxs[lane] : 0x7fffffff;
  for (int o = 16; o > 0; o >>= 1) {
    const float v = __shfl_xor_sync(kFullMask, best_v, o);
    const int i = __shfl_xor_sync(kFullMask, best_i, o);
    if (better(v, i, best_v, best_i)) {
      best_v = v;
      best_i = i;
    }
  }
  // A row of NaN or -inf only: index 0, as a host argmax over such a row would give.
  if (lane == 0) ids[blockIdx.x] = best_i == 0x7fffffff ? 0 : best_i;
}

__global__ void log_softmax_kernel(const float* logits, long long vocab, float* out) {
  LLM_SHARED(float, scratch, 32);
  const long long base = static_cast<long long>(blockIdx.x) * vocab;
  float m = -INFINITY;
  for (long long i = threadIdx.x; i < vocab; i += blockDim.x) m = fmaxf(m, logits[base + i]);
  m = block_reduce<true>(m, scratch);
  float sum = 0.0f;
  for (long long i = threadIdx.x; i < vocab; i += blockDim.x) sum += __expf(logits[base + i] - m);
  const float lse = m + __logf(block_reduce<false>(sum, scratch));
  // Each thread rewrites only the elements it reads, so out may alias logits.
  for (long long i = threadIdx.x; i < vocab; i += blockDim.x)
    out[base + i] = logits[base + i] - lse;
}

void argmax(const float* logits, long long rows, long long vocab, int* ids, cudaStream_t stream) {
  if (rows > 0) {
    LLM_LAUNCH(argmax_kernel, static_cast<unsigned>(rows), kThreads, 0, stream, logits, vocab, ids);
  }
}

void log_softmax(const float* logits, long long rows, long long vocab, float* out,
                 cudaStream_t stream) {
  if (rows > 0) {
    LLM_LAUNCH(log_softmax_kernel, static_cast<unsigned>(rows), kThreads, 0, stream, logits, vocab,
               out);
  }
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
