// Host entry points of the kernels the sampler can run on device: greedy argmax and
// log-softmax over rows of logits.
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

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
