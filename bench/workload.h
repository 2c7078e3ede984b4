// The synthetic requests the offline benchmarks submit: random token ids, so no two prompts
// share a prefix (the prefix cache must not make a benchmark look faster than real traffic).
#pragma once

#include <cstdint>
#include <vector>

#include "llm/model_config.h"
#include "llm/request.h"

namespace llm::bench {

// `count` prompts of `len` ids drawn uniformly from [3, vocab): above the special ids, so
// every prompt is valid input for the model.
std::vector<std::vector<int32_t>> random_prompts(int count, int len, int vocab, uint64_t seed);

// A greedy request that runs exactly `output_len` tokens (ignore_eos).
Request fixed_length_request(std::vector<int32_t> prompt, int output_len);

// Throws llm::Error (kInvalidArgument) naming the numbers when a prompt of
// `input_len` plus `output_len` generated tokens does not fit the model's context.
void check_fits_context(const ModelConfig& c, int input_len, int output_len);

}  // namespace llm::bench
