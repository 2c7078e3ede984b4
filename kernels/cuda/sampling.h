// Host entry points of the kernels the sampler can run on device: greedy argmax, log-softmax
// over rows of logits, and sampling with temperature, top-k, top-p and min-p.
#pragma once

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// ids[r] = the index of the largest of logits[r, :] (the smallest such index on ties).
// logits [rows, vocab] f32, ids [rows] i32.
void argmax(const float* logits, long long rows, long long vocab, int* ids, cudaStream_t stream);

// out[r, :] = logits[r, :] - max - log(sum(exp(logits[r, :] - max))); [rows, vocab] f32 each
// (out may equal logits).
void log_softmax(const float* logits, long long rows, long long vocab, float* out,
                 cudaStream_t stream);

// One row's sampling: engine/sampler.h's definition (softmax at the temperature, in double;
// the top_k best; min_p of the best one's probability; top_p of what is left, best first; the
// draw walked best first, ties broken by the smaller id), with the row's one uniform draw
// taken on the host from the sequence's generator.
struct SampleRow {
  double inv_temperature = 0.0;  // 0: greedy (the argmax, smallest id on ties)
  double top_p = 1.0;            // (0, 1]
  double min_p = 0.0;            // [0, 1]
  double draw = 0.0;             // [0, 1)
  int top_k = 0;                 // <= 0 or >= vocab: every token
  int logprobs = -1;             // >= 0: also the token's logprob and this many alternatives
  // Penalties over the row's distinct prompt and output tokens [penalty_begin, penalty_end) of
  // apply_penalties' arrays: repetition (CTRL: positive logits divided, negative multiplied),
  // then frequency * output count + presence subtracted for tokens the output holds.
  double repetition = 1.0, presence = 0.0, frequency = 0.0;
  int penalty_begin = 0, penalty_end = 0;
};

// The most alternatives a row's logprobs carry (SamplingParams::kMaxLogprobs).
inline constexpr int kMaxTopLogprobs = 20;

// ids[r] = the token row r's parameters choose from logits[r, :]. rows_params: [rows] on the
// device. Exact sums in another order than the host's best-first one can decide differently
// only when the draw lands within rounding of a boundary.
void sample(const float* logits, long long rows, long long vocab, const SampleRow* row_params,
            int* ids, cudaStream_t stream);

// work[r, :] = logits[r, :] with row r's penalties applied: token_ids[i] (distinct per row) with
// output_counts[i] for i in [penalty_begin, penalty_end). [rows, vocab] f32 each.
void apply_penalties(const float* logits, float* work, long long rows, long long vocab,
                     const SampleRow* row_params, const int* token_ids, const int* output_counts,
                     cudaStream_t stream);

// For the rows with row_params[r].logprobs >= 0, the host sampler's logprobs of the raw logits
// (log-softmax with the max in f32 and the normaliser summed in double): values[r, 0] is token
// ids[r]'s, values[r, 1 + j] and top_ids[r, j] the j-th best token's (ties to the smaller id)
// for j < logprobs. values [rows, 1 + kMaxTopLogprobs] f32, top_ids [rows, kMaxTopLogprobs] i32.
void logprobs(const float* logits, long long rows, long long vocab, const SampleRow* row_params,
              const int* ids, float* values, int* top_ids, cudaStream_t stream);

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
