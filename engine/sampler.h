// Sampler: picks one sequence's next token from its logits, applying the request's logit
// bias, min_tokens mask, penalties, temperature, top-k, top-p and min-p, and reports
// log-probabilities of the raw distribution.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "llm/request.h"

namespace llm {

struct SamplingContext {
  std::span<const int32_t> prompt;   // for the repetition penalty
  std::span<const int32_t> output;   // for all penalties and min_tokens
  std::span<const int32_t> eos_ids;  // masked until min_tokens (unless ignore_eos)
};

class Sampler {
 public:
  explicit Sampler(int vocab_size);

  // Returns the chosen token. `logits` is the raw [vocab] row. When params.logprobs >= 0,
  // *logprobs receives the sampled token's log-probability and the top alternatives.
  int32_t sample(std::span<const float> logits, const SamplingParams& params,
                 const SamplingContext& ctx, std::mt19937_64& rng, LogprobEntry* logprobs);

  // True when sample() would return the argmax of the raw logits (greedy, and nothing adjusts
  // the logits or reads them), so the caller may take the argmax from elsewhere.
  static bool is_plain_greedy(const SamplingParams& params, const SamplingContext& ctx);

  // A uniform double in [0, 1) from 53 random bits: identical on every platform.
  static double uniform(std::mt19937_64& rng) {
    return static_cast<double>(rng() >> 11) * 0x1.0p-53;
  }

 private:
  void compute_logprobs(std::span<const float> logits, int32_t chosen, int top_n,
                        LogprobEntry* out);

  int vocab_;
  std::vector<float> work_;      // [vocab] adjusted logits
  std::vector<int32_t> counts_;  // [vocab] output occurrences (zeroed after each use)
  std::vector<int32_t> order_;   // candidate ids, sorted by logit
  std::vector<double> probs_;
};

}  // namespace llm
