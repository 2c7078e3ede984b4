// Sampler against a straightforward reference: the sampler as it was before it stopped sorting
// the whole vocabulary (copied below, full sort and all). Same logits, parameters and generator
// state in, the same token and the same generator state out, on many random logit vectors at
// Llama 3's vocabulary and on small ones full of ties.
#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace llm {
namespace {

// The reference: full sort of the candidates by (logit desc, id asc), softmax in double over
// them, min-p, then top-p on the remaining mass, then one uniform draw walked best first.
int32_t reference_sample(std::span<const float> logits, const SamplingParams& p,
                         const SamplingContext& ctx, std::mt19937_64& rng) {
  const int vocab = static_cast<int>(logits.size());
  std::vector<float> work(logits.begin(), logits.end());
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (const auto& [id, bias] : p.logit_bias) work[static_cast<size_t>(id)] += bias;
  if (static_cast<int>(ctx.output.size()) < p.min_tokens) {
    if (!p.ignore_eos) {
      for (int32_t id : ctx.eos_ids) work[static_cast<size_t>(id)] = kNegInf;
    }
    for (int32_t id : p.stop_token_ids) work[static_cast<size_t>(id)] = kNegInf;
  }
  if (p.repetition_penalty != 1.0 || p.presence_penalty != 0.0 || p.frequency_penalty != 0.0) {
    std::vector<int32_t> counts(static_cast<size_t>(vocab), 0);
    for (int32_t id : ctx.output) ++counts[static_cast<size_t>(id)];
    if (p.repetition_penalty != 1.0) {
      const float rp = static_cast<float>(p.repetition_penalty);
      std::vector<bool> seen(static_cast<size_t>(vocab), false);
      for (auto span : {ctx.prompt, ctx.output}) {
        for (int32_t id : span) {
          if (!seen[static_cast<size_t>(id)]) {
            seen[static_cast<size_t>(id)] = true;
            float& l = work[static_cast<size_t>(id)];
            l = l > 0 ? l / rp : l * rp;
          }
        }
      }
    }
    for (int32_t id : ctx.output) {
      int32_t& c = counts[static_cast<size_t>(id)];
      if (c == 0) continue;
      work[static_cast<size_t>(id)] -=
          static_cast<float>(p.frequency_penalty * c + p.presence_penalty);
      c = 0;
    }
  }
  if (p.temperature == 0.0) {
    int32_t chosen = 0;
    for (int i = 1; i < vocab; ++i) {
      if (work[static_cast<size_t>(i)] > work[static_cast<size_t>(chosen)]) chosen = i;
    }
    return chosen;
  }
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  auto better = [&](int32_t a, int32_t b) {
    const float la = work[static_cast<size_t>(a)], lb = work[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  int n = vocab;
  if (p.top_k > 0 && p.top_k < n) {
    std::partial_sort(order.begin(), order.begin() + p.top_k, order.end(), better);
    n = p.top_k;
  } else {
    std::sort(order.begin(), order.end(), better);
  }
  const double inv_t = 1.0 / p.temperature;
  const double top = work[static_cast<size_t>(order[0])];
  std::vector<double> probs(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    probs[static_cast<size_t>(i)] =
        std::exp((work[static_cast<size_t>(order[static_cast<size_t>(i)])] - top) * inv_t);
  }
  if (p.min_p > 0) {
    int keep = 1;
    while (keep < n && probs[static_cast<size_t>(keep)] >= p.min_p * probs[0]) ++keep;
    n = keep;
  }
  if (p.top_p < 1.0) {
    double total = 0;
    for (int i = 0; i < n; ++i) total += probs[static_cast<size_t>(i)];
    double cum = 0;
    int keep = 0;
    while (keep < n && cum < p.top_p * total) cum += probs[static_cast<size_t>(keep++)];
    n = std::max(keep, 1);
  }
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += probs[static_cast<size_t>(i)];
  double u = Sampler::uniform(rng) * sum;
  for (int i = 0; i < n; ++i) {
    u -= probs[static_cast<size_t>(i)];
    if (u < 0) return order[static_cast<size_t>(i)];
  }
  return order[static_cast<size_t>(n - 1)];
}

struct ParamCase {
  std::string name;
  double temperature;
  int top_k;
  double top_p;
  double min_p;
  double repetition_penalty = 1.0;
};

const std::vector<ParamCase>& param_cases() {
  static const std::vector<ParamCase> c = {
      {"temperature 1", 1.0, 0, 1.0, 0.0},
      {"temperature 0.7", 0.7, 0, 1.0, 0.0},
      {"hot: temperature 2", 2.0, 0, 1.0, 0.0},
      {"top_p 0.9", 0.8, 0, 0.9, 0.0},
      {"top_p 0.5", 1.0, 0, 0.5, 0.0},
      {"top_p 0.999 at temperature 1.5", 1.5, 0, 0.999, 0.0},
      {"top_k 1", 1.0, 1, 1.0, 0.0},
      {"top_k 40, top_p 0.95", 0.7, 40, 0.95, 0.0},
      {"top_k 5000", 1.0, 5000, 1.0, 0.0},
      {"top_k 100000, top_p 0.8", 1.2, 100000, 0.8, 0.0},
      {"min_p 0.05", 1.0, 0, 1.0, 0.05},
      {"min_p 0.0001, top_p 0.9", 1.3, 0, 0.9, 0.0001},
      {"repetition penalty, top_p 0.95", 0.9, 0, 0.95, 0.0, 1.2},
      {"temperature 1e-300 (1 / T finite)", 1e-300, 0, 0.9, 0.0},
      {"temperature 1e-310 (1 / T infinite)", 1e-310, 0, 1.0, 0.0},
  };
  return c;
}

SamplingParams to_params(const ParamCase& c) {
  SamplingParams p;
  p.temperature = c.temperature;
  p.top_k = c.top_k;
  p.top_p = c.top_p;
  p.min_p = c.min_p;
  p.repetition_penalty = c.repetition_penalty;
  return p;
}

// kind 0: a broad normal bulk with a few tokens well above it (a language model's shape);
// kind 1: flat-ish normal logits (a wide nucleus); kind 2: logits on a coarse grid (many ties),
// some masked to -inf.
std::vector<float> random_logits(int vocab, int kind, std::mt19937_64& rng) {
  std::vector<float> v(static_cast<size_t>(vocab));
  std::normal_distribution<float> normal(0.0f, kind == 1 ? 1.0f : 3.0f);
  for (float& x : v) x = normal(rng);
  std::uniform_int_distribution<int> id(0, vocab - 1);
  if (kind == 0) {
    std::uniform_real_distribution<float> lift(4.0f, 14.0f);
    for (int i = 0; i < 32; ++i) v[static_cast<size_t>(id(rng))] += lift(rng);
  } else if (kind == 2) {
    for (float& x : v) x = std::round(x * 2.0f) / 2.0f;
    for (int i = 0; i < vocab / 8; ++i)
      v[static_cast<size_t>(id(rng))] = -std::numeric_limits<float>::infinity();
  }
  return v;
}

void expect_same_as_reference(int vocab, int rows_per_case, uint64_t seed) {
  Sampler sampler(vocab);
  std::mt19937_64 data(seed);
  std::vector<int32_t> prompt(50), output(30);
  std::uniform_int_distribution<int32_t> id(0, vocab - 1);
  for (int32_t& t : prompt) t = id(data);
  for (int32_t& t : output) t = id(data);
  const SamplingContext ctx{prompt, output, {}};
  int checked = 0;
  for (const ParamCase& c : param_cases()) {
    const SamplingParams p = to_params(c);
    for (int row = 0; row < rows_per_case; ++row) {
      const std::vector<float> logits = random_logits(vocab, row % 3, data);
      const uint64_t draw_seed = data();
      std::mt19937_64 rng_new(draw_seed), rng_ref(draw_seed);
      // Several draws from the same logits: different uniforms walk to different candidates.
      for (int draw = 0; draw < 4; ++draw) {
        const int32_t got = sampler.sample(logits, p, ctx, rng_new, nullptr);
        const int32_t want = reference_sample(logits, p, ctx, rng_ref);
        ASSERT_EQ(got, want) << c.name << ", vocab " << vocab << ", row " << row << ", draw "
                             << draw;
        ASSERT_EQ(rng_new, rng_ref) << c.name << ": the generator was used differently";
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(Sampler, SameTokensAsAFullSortAtLlama3Vocabulary) {
  expect_same_as_reference(128256, 6, 1);
}

TEST(Sampler, SameTokensAsAFullSortOnSmallVocabulariesWithTies) {
  for (int vocab : {2, 3, 17, 100, 1000}) {
    SCOPED_TRACE("vocab " + std::to_string(vocab));
    expect_same_as_reference(vocab, 40, static_cast<uint64_t>(vocab));
  }
}

// Degenerate rows take the same path as the reference too: one finite logit, all equal.
TEST(Sampler, SameTokensOnDegenerateRows) {
  const int vocab = 3000;
  Sampler sampler(vocab);
  const SamplingContext ctx{};
  std::vector<std::vector<float>> rows;
  rows.emplace_back(static_cast<size_t>(vocab), -std::numeric_limits<float>::infinity());
  rows.back()[1234] = 0.5f;
  rows.emplace_back(static_cast<size_t>(vocab), 1.0f);
  rows.emplace_back(static_cast<size_t>(vocab), 0.0f);
  rows.back()[7] = -0.0f;  // equal to +0 for the order: ties break on the id
  for (const ParamCase& c : param_cases()) {
    const SamplingParams p = to_params(c);
    for (size_t r = 0; r < rows.size(); ++r) {
      std::mt19937_64 rng_new(r), rng_ref(r);
      for (int draw = 0; draw < 8; ++draw) {
        ASSERT_EQ(sampler.sample(rows[r], p, ctx, rng_new, nullptr),
                  reference_sample(rows[r], p, ctx, rng_ref))
            << c.name << ", row " << r << ", draw " << draw;
      }
    }
  }
}

// A top-p threshold exactly on a partial sum: 8192 equal logits and top_p 1/16 or 1/4 put it on
// the sum of the best 512 or 2048, where the normaliser's rounding alone decides; the sampler
// must then grow its prefix to the full sort rather than guess.
TEST(Sampler, ACutExactlyOnAPartialSumMatchesTheFullSort) {
  const int vocab = 8192;
  Sampler sampler(vocab);
  const std::vector<float> logits(static_cast<size_t>(vocab), 0.25f);
  for (double top_p : {0.0625, 0.25}) {
    SamplingParams p;
    p.top_p = top_p;
    for (uint64_t seed = 0; seed < 20; ++seed) {
      std::mt19937_64 rng_new(seed), rng_ref(seed);
      ASSERT_EQ(sampler.sample(logits, p, SamplingContext{}, rng_new, nullptr),
                reference_sample(logits, p, SamplingContext{}, rng_ref))
          << "top_p " << top_p << ", seed " << seed;
    }
  }
}

// The logprobs' top alternatives are the best raw logits, best first, ties by id.
TEST(Sampler, LogprobsListTheBestRawLogitsInOrder) {
  const int vocab = 5000;
  Sampler sampler(vocab);
  std::mt19937_64 data(9);
  std::vector<float> logits = random_logits(vocab, 2, data);
  SamplingParams p;
  p.temperature = 0;
  p.logprobs = 20;
  LogprobEntry lp;
  std::mt19937_64 rng(1);
  const int32_t chosen = sampler.sample(logits, p, SamplingContext{}, rng, &lp);
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)];
  });
  ASSERT_EQ(lp.top.size(), 20u);
  EXPECT_EQ(chosen, order[0]);
  EXPECT_EQ(lp.sampled.token_id, chosen);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(lp.top[i].token_id, order[i]) << i;
}

}  // namespace
}  // namespace llm
