#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace llm {

Sampler::Sampler(int vocab_size)
    : vocab_(vocab_size),
      work_(static_cast<size_t>(vocab_size)),
      counts_(static_cast<size_t>(vocab_size), 0),
      order_(static_cast<size_t>(vocab_size)) {}

bool Sampler::is_plain_greedy(const SamplingParams& p, const SamplingContext& ctx) {
  return p.temperature == 0.0 && p.logprobs < 0 && p.logit_bias.empty() &&
         p.repetition_penalty == 1.0 && p.presence_penalty == 0.0 && p.frequency_penalty == 0.0 &&
         static_cast<int>(ctx.output.size()) >= p.min_tokens;
}

int32_t Sampler::sample(std::span<const float> logits, const SamplingParams& p,
                        const SamplingContext& ctx, std::mt19937_64& rng, LogprobEntry* logprobs) {
  std::copy(logits.begin(), logits.end(), work_.begin());
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();

  for (const auto& [id, bias] : p.logit_bias) work_[static_cast<size_t>(id)] += bias;
  if (static_cast<int>(ctx.output.size()) < p.min_tokens) {
    if (!p.ignore_eos) {
      for (int32_t id : ctx.eos_ids) work_[static_cast<size_t>(id)] = kNegInf;
    }
    for (int32_t id : p.stop_token_ids) work_[static_cast<size_t>(id)] = kNegInf;
  }
  if (p.repetition_penalty != 1.0 || p.presence_penalty != 0.0 || p.frequency_penalty != 0.0) {
    for (int32_t id : ctx.output) ++counts_[static_cast<size_t>(id)];
    // Repetition penalty (CTRL / Hugging Face): divide positive logits, multiply negative ones,
    // once per distinct token seen in the prompt or the output.
    if (p.repetition_penalty != 1.0) {
      const float rp = static_cast<float>(p.repetition_penalty);
      auto penalise = [&](int32_t id) {
        float& l = work_[static_cast<size_t>(id)];
        l = l > 0 ? l / rp : l * rp;
      };
      std::vector<bool> seen(static_cast<size_t>(vocab_), false);
      for (auto span : {ctx.prompt, ctx.output}) {
        for (int32_t id : span) {
          if (!seen[static_cast<size_t>(id)]) {
            seen[static_cast<size_t>(id)] = true;
            penalise(id);
          }
        }
      }
    }
    // OpenAI presence / frequency penalties over the generated tokens.
    for (int32_t id : ctx.output) {
      int32_t& c = counts_[static_cast<size_t>(id)];
      if (c == 0) continue;  // already applied for this id
      work_[static_cast<size_t>(id)] -=
          static_cast<float>(p.frequency_penalty * c + p.presence_penalty);
      c = 0;
    }
  }

  int32_t chosen = 0;
  if (p.temperature == 0.0) {
    for (int i = 1; i < vocab_; ++i) {
      if (work_[static_cast<size_t>(i)] > work_[static_cast<size_t>(chosen)]) chosen = i;
    }
  } else {
    // Candidates best first (ties by id, so the order does not depend on the sort's whims).
    int n = vocab_;
    std::iota(order_.begin(), order_.end(), 0);
    auto better = [&](int32_t a, int32_t b) {
      const float la = work_[static_cast<size_t>(a)], lb = work_[static_cast<size_t>(b)];
      return la > lb || (la == lb && a < b);
    };
    if (p.top_k > 0 && p.top_k < n) {
      std::partial_sort(order_.begin(), order_.begin() + p.top_k, order_.end(), better);
      n = p.top_k;
    } else {
      std::sort(order_.begin(), order_.end(), better);
    }
    const double inv_t = 1.0 / p.temperature;
    const double top = work_[static_cast<size_t>(order_[0])];
    probs_.resize(static_cast<size_t>(n));
    double sum = 0;
    for (int i = 0; i < n; ++i) {
      probs_[static_cast<size_t>(i)] =
          std::exp((work_[static_cast<size_t>(order_[static_cast<size_t>(i)])] - top) * inv_t);
      sum += probs_[static_cast<size_t>(i)];
    }
    // min-p: drop candidates below min_p times the best one's probability.
    if (p.min_p > 0) {
      int keep = 1;
      while (keep < n && probs_[static_cast<size_t>(keep)] >= p.min_p * probs_[0]) ++keep;
      n = keep;
    }
    // top-p: the smallest best-first prefix whose mass reaches top_p.
    if (p.top_p < 1.0) {
      double total = 0;
      for (int i = 0; i < n; ++i) total += probs_[static_cast<size_t>(i)];
      double cum = 0;
      int keep = 0;
      while (keep < n && cum < p.top_p * total) cum += probs_[static_cast<size_t>(keep++)];
      n = std::max(keep, 1);
    }
    sum = 0;
    for (int i = 0; i < n; ++i) sum += probs_[static_cast<size_t>(i)];
    double u = uniform(rng) * sum;
    chosen = order_[static_cast<size_t>(n - 1)];
    for (int i = 0; i < n; ++i) {
      u -= probs_[static_cast<size_t>(i)];
      if (u < 0) {
        chosen = order_[static_cast<size_t>(i)];
        break;
      }
    }
  }
  if (logprobs && p.logprobs >= 0) compute_logprobs(logits, chosen, p.logprobs, logprobs);
  return chosen;
}

void Sampler::compute_logprobs(std::span<const float> logits, int32_t chosen, int top_n,
                               LogprobEntry* out) {
  // log_softmax of the raw logits, in double for the normaliser.
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - mx);
  const double log_z = mx + std::log(sum);
  auto lp = [&](int32_t id) { return static_cast<float>(logits[static_cast<size_t>(id)] - log_z); };
  out->sampled = {chosen, lp(chosen)};
  out->top.clear();
  if (top_n <= 0) return;
  std::iota(order_.begin(), order_.end(), 0);
  auto better = [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
           (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  };
  const int k = std::min(top_n, vocab_);
  std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), better);
  for (int i = 0; i < k; ++i)
    out->top.push_back({order_[static_cast<size_t>(i)], lp(order_[static_cast<size_t>(i)])});
}

}  // namespace llm
