// Sampler: picks one sequence's next token from its logits, applying the request's logit
// bias, min_tokens mask, penalties, temperature, top-k, top-p and min-p, and reports
// log-probabilities of the raw distribution.
//
// The definition is a full sort: candidates best first (logit descending, id ascending), their
// softmax in double, min-p, top-p on what is left, one uniform draw walked best first. It is
// computed without sorting the vocabulary. A histogram of the candidates' probabilities (bins
// 1/64 wide in log space) picks a best-first prefix of a few hundred, which alone is sorted
// (grown when the cut or the draw lies beyond it); the rest enters only the softmax's
// normaliser, bounded from the histogram. A decision is taken only when it holds for every
// normaliser within those bounds and the rounding of a best-first sum; otherwise the prefix
// grows, up to the full sort. The token is therefore exactly the full sort's for the same
// generator state, and the generator is used the same way (one draw per sampled token).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "engine/backend/backend.h"
#include "llm/request.h"

namespace llm {

struct SamplingContext {
  std::span<const int32_t> prompt;   // for the repetition penalty
  std::span<const int32_t> output;   // for all penalties and min_tokens
  std::span<const int32_t> eos_ids;  // masked until min_tokens (unless ignore_eos)
  // Structured output: bit (id % 32) of word (id / 32) allows token id; empty: every token.
  // Applied after the bias, min_tokens and penalties; where it and min_tokens leave nothing,
  // the grammar wins (the output must end where it is complete).
  std::span<const uint32_t> allowed;
};

class Sampler {
 public:
  explicit Sampler(int vocab_size);

  // Returns the chosen token. `logits` is the raw [vocab] row. When params.logprobs >= 0,
  // *logprobs receives the sampled token's log-probability and the top alternatives.
  // `draw`: the call's uniform draw when the caller took it already from `rng` (for a row the
  // device might have sampled); the generator is then not read.
  int32_t sample(std::span<const float> logits, const SamplingParams& params,
                 const SamplingContext& ctx, std::mt19937_64& rng, LogprobEntry* logprobs,
                 std::optional<double> draw = std::nullopt);

  // The parameters Backend::sample can take for this row (temperature, top-k, top-p, min-p and
  // the penalties; no bias, masks or min_tokens in force; with logprobs, or the tracked logprob,
  // when asked); nullopt otherwise. The draw (for a temperature above 0) and the penalties'
  // token lists are left to the caller.
  static std::optional<RowSampling> device_sampling(const SamplingParams& params,
                                                    const SamplingContext& ctx);

  // True when sample() would return the argmax of the raw logits (greedy, and nothing adjusts
  // the logits or reads them), so the caller may take the argmax from elsewhere.
  static bool is_plain_greedy(const SamplingParams& params, const SamplingContext& ctx);

  // A uniform double in [0, 1) from 53 random bits: identical on every platform.
  static double uniform(std::mt19937_64& rng) {
    return static_cast<double>(rng() >> 11) * 0x1.0p-53;
  }

 private:
  // Bin b holds the candidates whose (top - logit) / T lies in [b, b + 1) / kBinsPerUnit (a
  // power of two, so the edges are exact); the last bin takes everything below e^-64.
  static constexpr int kBinsPerUnit = 64;
  static constexpr int kNumBins = 64 * kBinsPerUnit;

  void apply_penalties(const SamplingParams& p, const SamplingContext& ctx);
  void apply_mask(std::span<const float> logits, std::span<const uint32_t> allowed);
  int32_t sample_candidates(const SamplingParams& p, double uniform_draw);
  // The candidates sorted outright (all of them, or the top-k): for small top-k cuts, and for
  // non-finite probabilities.
  int32_t sample_sorted(const SamplingParams& p, double inv_t, double uniform_draw);
  // Appends the candidates of bins (from, to] to the sorted prefix keys_[0, k), at most n in
  // all; returns the new k.
  int extend_prefix(int k, int from, int to, int n, double inv_t);
  // The token chosen from the n best candidates, of which keys_[0, k) are sorted and the rest
  // carry between tail_lo and tail_hi of probability; -1 when that does not settle it.
  int32_t choose(const SamplingParams& p, int k, int n, double tail_lo, double tail_hi,
                 double uniform_draw) const;
  void compute_logprobs(std::span<const float> logits, int32_t chosen, int top_n,
                        LogprobEntry* out);

  int vocab_;
  std::vector<float> work_;      // [vocab] adjusted logits
  std::vector<int32_t> counts_;  // [vocab] output occurrences (zeroed after each use)
  std::vector<uint8_t> seen_;    // [vocab] repetition-penalty marks (cleared after each use)
  // [vocab] one key per candidate whose ascending order is the candidate order (logit
  // descending, id ascending): plain integer compares for sort and nth_element.
  std::vector<uint64_t> keys_;
  std::vector<double> probs_;        // [vocab] unnormalised probabilities of the sorted prefix
  std::vector<uint16_t> bins_;       // [vocab] each candidate's probability bin
  std::vector<int32_t> bin_counts_;  // [2, kNumBins] candidates per probability bin
  std::vector<double> bin_edges_;    // [kNumBins + 1] exp(-b / 64): bin b's largest probability
  double top_ = 0;                   // the best logit: probabilities are exp((l - top) / T)
};

}  // namespace llm
