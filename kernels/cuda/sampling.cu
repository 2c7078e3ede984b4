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

namespace {

// A candidate's rank as one integer: larger is better. The logit's bits made monotonic, then the
// complement of the id (a smaller id wins a tie).
__device__ inline unsigned long long rank_key(float logit, long long id) {
  unsigned bits = __float_as_uint(logit);
  bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<unsigned long long>(bits) << 32) | (0xFFFFFFFFu - static_cast<unsigned>(id));
}

constexpr int kDigits = 16;  // a radix-select pass splits the rank keys by 4 bits

// Sums each of the 16 buckets over the block; every thread receives the totals. scratch: shared
// [kThreads / 32 + 1][kDigits] doubles. Fixed order: the same inputs give the same bits.
__device__ inline void block_sum16(double (&h)[kDigits], double* scratch) {
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  LLM_UNROLL
  for (int b = 0; b < kDigits; ++b) {
    for (int o = 16; o > 0; o >>= 1) h[b] += __shfl_xor_sync(kFullMask, h[b], o);
  }
  __syncthreads();  // the previous call's totals have been read
  if (lane == 0) {
    LLM_UNROLL
    for (int b = 0; b < kDigits; ++b) scratch[warp * kDigits + b] = h[b];
  }
  __syncthreads();
  if (threadIdx.x < kDigits) {
    double t = 0.0;
    for (unsigned w = 0; w < warps; ++w) t += scratch[w * kDigits + threadIdx.x];
    scratch[warps * kDigits + threadIdx.x] = t;
  }
  __syncthreads();
  LLM_UNROLL
  for (int b = 0; b < kDigits; ++b) h[b] = scratch[warps * kDigits + b];
}

}  // namespace

// Radix select: the largest rank key t such that the tokens at keys >= t (and >= floor) weigh
// at least `threshold` in all (more than it, with kAbove); weight(i) < 0 leaves token i out.
// Key 0 must meet it. 4 bits a pass from the top: 16 passes, each one block-wide sum of 16
// buckets; after the first passes only the tokens sharing the chosen prefix weigh anything.
template <bool kAbove, typename Weight>
__device__ unsigned long long radix_select(const float* row, long long vocab,
                                           unsigned long long floor, double threshold,
                                           Weight weight, double* scratch) {
  unsigned long long prefix = 0;
  double above = 0.0;  // tokens with a larger prefix
  for (int shift = 64 - 4; shift >= 0; shift -= 4) {
    const unsigned long long high = shift == 60 ? 0 : ~0ull << (shift + 4);
    double h[kDigits];
    LLM_UNROLL
    for (int b = 0; b < kDigits; ++b) h[b] = 0.0;
    for (long long i = threadIdx.x; i < vocab; i += blockDim.x) {
      const unsigned long long k = rank_key(row[i], i);
      if ((k & high) != prefix || k < floor) continue;
      const double w = weight(i);
      if (w < 0.0) continue;
      const int digit = static_cast<int>((k >> shift) & (kDigits - 1));
      LLM_UNROLL
      for (int b = 0; b < kDigits; ++b) h[b] += b == digit ? w : 0.0;
    }
    block_sum16(h, scratch);
    // The largest digit whose suffix, with everything above, still meets the threshold.
    // (Unrolled with constant indices, so h stays in registers.) Only rounding (sums in another
    // order than the threshold's) leaves none: then the lowest digit that holds a token,
    // toward the last one.
    double suffix = 0.0, pick_suffix = 0.0, pick_h = 0.0, low_suffix = 0.0, low_h = 0.0;
    int pick = -1, low = 0;
    LLM_UNROLL
    for (int j = 0; j < kDigits; ++j) {
      const int b = kDigits - 1 - j;
      suffix += h[b];
      const double v = above + suffix;
      if (pick < 0 && (kAbove ? v > threshold : v >= threshold)) {
        pick = b;
        pick_suffix = suffix;
        pick_h = h[b];
      }
      if (h[b] != 0.0) {
        low = b;
        low_suffix = suffix;
        low_h = h[b];
      }
    }
    if (pick < 0) {
      pick = low;
      pick_suffix = low_suffix;
      pick_h = low_h;
    }
    above += pick_suffix - pick_h;
    prefix |= static_cast<unsigned long long>(pick) << shift;
  }
  return prefix;
}

// One block per row. Every cut is a threshold on the rank key found by radix select: the k-th
// best key for top-k, the last key of the smallest best-first prefix reaching top_p of the mass,
// then the key at which the best-first mass first exceeds draw * total. No sort; the logits are
// only read.
__global__ void sample_kernel(const float* logits, long long vocab, const SampleRow* params,
                              int* ids) {
  LLM_SHARED(float, fscratch, 32);
  LLM_SHARED(double, dscratch, (kThreads / 32 + 1) * kDigits);
  const float* row = logits + static_cast<long long>(blockIdx.x) * vocab;
  const SampleRow p = params[blockIdx.x];
  // The best logit (for the softmax's shift) and, for greedy rows, the answer.
  float top = -INFINITY;
  for (long long i = threadIdx.x; i < vocab; i += blockDim.x) top = fmaxf(top, row[i]);
  top = block_reduce<true>(top, fscratch);
  if (p.inv_temperature == 0.0 || p.top_k == 1) {
    // The best key: the smallest id holding the maximum.
    int best = 0x7fffffff;
    for (long long i = threadIdx.x; i < vocab; i += blockDim.x) {
      if (row[i] == top && i < best) best = static_cast<int>(i);
    }
    const float b = block_reduce<true>(-static_cast<float>(best), fscratch);
    if (threadIdx.x == 0) ids[blockIdx.x] = static_cast<int>(-b);
    return;
  }
  // The sampler's probability: (logit - top) in f32, then scaled and exponentiated in double.
  auto prob = [&](long long i) {
    return exp(static_cast<double>(row[i] - top) * p.inv_temperature);
  };
  unsigned long long floor = 0;  // candidates: rank key >= floor and probability >= min_p
  auto mass_of = [&](long long i) {
    const double q = prob(i);
    return q >= p.min_p ? q : -1.0;
  };
  auto total_mass = [&] {
    double m = 0.0;
    for (long long i = threadIdx.x; i < vocab; i += blockDim.x) {
      if (rank_key(row[i], i) < floor) continue;
      const double q = prob(i);
      if (q >= p.min_p) m += q;
    }
    double h[kDigits] = {m};
    block_sum16(h, dscratch);
    return h[0];
  };
  if (p.top_k > 0 && p.top_k < vocab) {
    floor = radix_select<false>(
        row, vocab, 0, p.top_k, [](long long) { return 1.0; }, dscratch);
  }
  double total = total_mass();
  if (p.top_p < 1.0) {
    floor = radix_select<false>(row, vocab, floor, p.top_p * total, mass_of, dscratch);
    total = total_mass();
  }
  const double target = p.draw * total;
  // Rounding may let no candidate pass the target: then the last one, as the host walk ends.
  const unsigned long long pick =
      total > target ? radix_select<true>(row, vocab, floor, target, mass_of, dscratch)
                     : radix_select<false>(row, vocab, floor, total, mass_of, dscratch);
  if (threadIdx.x == 0) ids[blockIdx.x] = static_cast<int>(0xFFFFFFFFu - (pick & 0xFFFFFFFFu));
}

// One block per row: the row copied, then each listed token penalised by the thread that reads
// it (tokens are distinct within a row), as engine/sampler.cpp does on the host.
__global__ void apply_penalties_kernel(const float* logits, float* work, long long vocab,
                                       const SampleRow* params, const int* token_ids,
                                       const int* output_counts) {
  const long long base = static_cast<long long>(blockIdx.x) * vocab;
  for (long long i = threadIdx.x; i < vocab; i += blockDim.x) work[base + i] = logits[base + i];
  __syncthreads();
  const SampleRow p = params[blockIdx.x];
  const float rp = static_cast<float>(p.repetition);
  for (int i = p.penalty_begin + static_cast<int>(threadIdx.x); i < p.penalty_end;
       i += static_cast<int>(blockDim.x)) {
    float& l = work[base + token_ids[i]];
    if (p.repetition != 1.0) l = l > 0 ? l / rp : l * rp;
    const int c = output_counts[i];
    if (c > 0) l -= static_cast<float>(p.frequency * c + p.presence);
  }
}

void apply_penalties(const float* logits, float* work, long long rows, long long vocab,
                     const SampleRow* row_params, const int* token_ids, const int* output_counts,
                     cudaStream_t stream) {
  if (rows > 0) {
    LLM_LAUNCH(apply_penalties_kernel, static_cast<unsigned>(rows), kThreads, 0, stream, logits,
               work, vocab, row_params, token_ids, output_counts);
  }
}

// One block per row: the normaliser, the sampled token's logprob, then the top alternatives by
// radix select on the rank key (count >= n), gathered and ordered by one thread (n <= 20).
__global__ void logprobs_kernel(const float* logits, long long vocab, const SampleRow* params,
                                const int* ids, float* values, int* top_ids) {
  const int n_top = params[blockIdx.x].logprobs;
  if (n_top < 0) return;
  LLM_SHARED(float, fscratch, 32);
  LLM_SHARED(double, dscratch, (kThreads / 32 + 1) * kDigits);
  LLM_SHARED(unsigned long long, found, kMaxTopLogprobs);
  LLM_SHARED(int, found_count, 1);
  const float* row = logits + static_cast<long long>(blockIdx.x) * vocab;
  float top = -INFINITY;
  for (long long i = threadIdx.x; i < vocab; i += blockDim.x) top = fmaxf(top, row[i]);
  top = block_reduce<true>(top, fscratch);
  double h[kDigits] = {0.0};
  for (long long i = threadIdx.x; i < vocab; i += blockDim.x) {
    h[0] += exp(static_cast<double>(row[i]) - top);
  }
  block_sum16(h, dscratch);
  const double log_z = top + log(h[0]);
  float* const out = values + static_cast<long long>(blockIdx.x) * (1 + kMaxTopLogprobs);
  if (threadIdx.x == 0) out[0] = static_cast<float>(row[ids[blockIdx.x]] - log_z);
  const int n = static_cast<int>(min(static_cast<long long>(min(n_top, kMaxTopLogprobs)), vocab));
  if (n == 0) return;
  const unsigned long long cut = radix_select<false>(
      row, vocab, 0, n, [](long long) { return 1.0; }, dscratch);
  if (threadIdx.x == 0) *found_count = 0;
  __syncthreads();
  for (long long i = threadIdx.x; i < vocab; i += blockDim.x) {
    const unsigned long long k = rank_key(row[i], i);
    if (k >= cut) found[atomicAdd(found_count, 1)] = k;  // exactly n keys
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  for (int a = 1; a < n; ++a) {  // best first
    const unsigned long long k = found[a];
    int b = a;
    for (; b > 0 && found[b - 1] < k; --b) found[b] = found[b - 1];
    found[b] = k;
  }
  int* const out_ids = top_ids + static_cast<long long>(blockIdx.x) * kMaxTopLogprobs;
  for (int j = 0; j < n; ++j) {
    const int id = static_cast<int>(0xFFFFFFFFu - (found[j] & 0xFFFFFFFFu));
    out_ids[j] = id;
    out[1 + j] = static_cast<float>(row[id] - log_z);
  }
}

void logprobs(const float* logits, long long rows, long long vocab, const SampleRow* row_params,
              const int* ids, float* values, int* top_ids, cudaStream_t stream) {
  if (rows > 0) {
    LLM_LAUNCH(logprobs_kernel, static_cast<unsigned>(rows), kThreads, 0, stream, logits, vocab,
               row_params, ids, values, top_ids);
  }
}

void sample(const float* logits, long long rows, long long vocab, const SampleRow* row_params,
            int* ids, cudaStream_t stream) {
  if (rows > 0) {
    LLM_LAUNCH(sample_kernel, static_cast<unsigned>(rows), kThreads, 0, stream, logits, vocab,
               row_params, ids);
  }
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
