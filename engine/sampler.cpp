#include "engine/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace llm {
namespace {

// The first sorted prefix (whole bins, so a little more): the usual top-p nuclei fit in it.
// It grows 8x when the cut or the draw lies beyond it. Top-k cuts up to this size are
// selected directly.
constexpr int kFirstPrefix = 256;
constexpr double kUnitRoundoff = 0x1.0p-53;

// Ascending keys give the candidate order: logit descending, then id ascending.
uint64_t candidate_key(float logit, int32_t id) {
  // -0 and +0 are equal logits (the tie goes to the lower id): both take +0's key.
  const uint32_t bits = std::bit_cast<uint32_t>(logit == 0.0f ? 0.0f : logit);
  // Float order as unsigned order: negatives reversed below the positives.
  const uint32_t ordered = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<uint64_t>(~ordered) << 32) | static_cast<uint32_t>(id);
}

int32_t key_id(uint64_t key) {
  return static_cast<int32_t>(key & 0xffffffffu);
}

}  // namespace

Sampler::Sampler(int vocab_size)
    : vocab_(vocab_size),
      work_(static_cast<size_t>(vocab_size)),
      counts_(static_cast<size_t>(vocab_size), 0),
      seen_(static_cast<size_t>(vocab_size), 0),
      keys_(static_cast<size_t>(vocab_size)),
      probs_(static_cast<size_t>(vocab_size)),
      bins_(static_cast<size_t>(vocab_size)),
      bin_counts_(2 * kNumBins),
      bin_edges_(kNumBins + 1) {
  for (int b = 0; b <= kNumBins; ++b)
    bin_edges_[static_cast<size_t>(b)] = std::exp(-static_cast<double>(b) / kBinsPerUnit);
}

bool Sampler::is_plain_greedy(const SamplingParams& p, const SamplingContext& ctx) {
  return p.temperature == 0.0 && p.logprobs < 0 && p.logit_bias.empty() &&
         p.repetition_penalty == 1.0 && p.presence_penalty == 0.0 && p.frequency_penalty == 0.0 &&
         static_cast<int>(ctx.output.size()) >= p.min_tokens && ctx.allowed.empty() &&
         !p.track_logprob;
}

std::optional<RowSampling> Sampler::device_sampling(const SamplingParams& p,
                                                    const SamplingContext& ctx) {
  const bool plain = p.logit_bias.empty() && static_cast<int>(ctx.output.size()) >= p.min_tokens &&
                     ctx.allowed.empty() && p.logprobs <= kDeviceTopLogprobs;
  if (!plain) return std::nullopt;
  RowSampling rs;
  rs.temperature = p.temperature;
  rs.top_k = p.top_k;
  rs.top_p = p.top_p;
  rs.min_p = p.min_p;
  rs.logprobs = p.logprobs >= 0 ? p.logprobs : (p.track_logprob ? 0 : -1);
  rs.repetition_penalty = p.repetition_penalty;
  rs.presence_penalty = p.presence_penalty;
  rs.frequency_penalty = p.frequency_penalty;
  return rs;
}

int32_t Sampler::sample(std::span<const float> logits, const SamplingParams& p,
                        const SamplingContext& ctx, std::mt19937_64& rng, LogprobEntry* logprobs,
                        std::optional<double> draw) {
  std::copy(logits.begin(), logits.end(), work_.begin());
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();

  for (const auto& [id, bias] : p.logit_bias) work_[static_cast<size_t>(id)] += bias;
  if (static_cast<int>(ctx.output.size()) < p.min_tokens) {
    if (!p.ignore_eos) {
      for (int32_t id : ctx.eos_ids) work_[static_cast<size_t>(id)] = kNegInf;
    }
    for (int32_t id : p.stop_token_ids) work_[static_cast<size_t>(id)] = kNegInf;
  }
  if (p.repetition_penalty != 1.0 || p.presence_penalty != 0.0 || p.frequency_penalty != 0.0)
    apply_penalties(p, ctx);
  if (!ctx.allowed.empty()) apply_mask(logits, ctx.allowed);

  int32_t chosen = 0;
  if (p.temperature == 0.0) {
    for (int i = 1; i < vocab_; ++i) {
      if (work_[static_cast<size_t>(i)] > work_[static_cast<size_t>(chosen)]) chosen = i;
    }
  } else {
    // The one draw of the call; nothing else reads the generator, so taking it first changes
    // nothing and lets a grown prefix reuse it.
    chosen = sample_candidates(p, draw ? *draw : uniform(rng));
  }
  if (logprobs) compute_logprobs(logits, chosen, std::max(p.logprobs, 0), logprobs);
  return chosen;
}

void Sampler::apply_mask(std::span<const float> logits, std::span<const uint32_t> allowed) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  // Word by word: a grammar usually allows a few hundred of 100k+ tokens, so most words are
  // 0 (32 tokens masked at once) and the per-bit work is only for the rest.
  bool any = false;
  const int words = (vocab_ + 31) / 32;
  for (int w = 0; w < words; ++w) {
    const uint32_t bits = allowed[static_cast<size_t>(w)];
    const int begin = w * 32, end = std::min(vocab_, begin + 32);
    if (bits == 0) {
      std::fill(work_.begin() + begin, work_.begin() + end, kNegInf);
      continue;
    }
    for (int i = begin; i < end; ++i) {
      if (bits >> (i - begin) & 1u) {
        any |= work_[static_cast<size_t>(i)] != kNegInf;
      } else {
        work_[static_cast<size_t>(i)] = kNegInf;
      }
    }
  }
  if (any) return;
  // min_tokens masked every token the grammar allows (it allows only EOS: the output is
  // complete): the grammar's tokens come back with their logits.
  for (int i = 0; i < vocab_; ++i) {
    if (allowed[static_cast<size_t>(i) / 32] >> (i % 32) & 1u)
      work_[static_cast<size_t>(i)] = logits[static_cast<size_t>(i)];
  }
}

void Sampler::apply_penalties(const SamplingParams& p, const SamplingContext& ctx) {
  for (int32_t id : ctx.output) ++counts_[static_cast<size_t>(id)];
  // Repetition penalty (CTRL / Hugging Face): divide positive logits, multiply negative ones,
  // once per distinct token seen in the prompt or the output.
  if (p.repetition_penalty != 1.0) {
    const float rp = static_cast<float>(p.repetition_penalty);
    for (auto span : {ctx.prompt, ctx.output}) {
      for (int32_t id : span) {
        if (!seen_[static_cast<size_t>(id)]) {
          seen_[static_cast<size_t>(id)] = 1;
          float& l = work_[static_cast<size_t>(id)];
          l = l > 0 ? l / rp : l * rp;
        }
      }
    }
    for (auto span : {ctx.prompt, ctx.output}) {
      for (int32_t id : span) seen_[static_cast<size_t>(id)] = 0;
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

int32_t Sampler::sample_candidates(const SamplingParams& p, double uniform_draw) {
  const double inv_t = 1.0 / p.temperature;
  if (p.top_k > 0 && p.top_k <= kFirstPrefix) return sample_sorted(p, inv_t, uniform_draw);
  const float* w = work_.data();
  const int v = vocab_;
  // Eight running maxima: one would chain every compare on the previous one.
  float tops[8];
  std::fill(tops, tops + 8, w[0]);
  int i = 0;
  for (; i + 8 <= v; i += 8) {
    for (int j = 0; j < 8; ++j) tops[j] = w[i + j] > tops[j] ? w[i + j] : tops[j];
  }
  for (; i < v; ++i) tops[0] = w[i] > tops[0] ? w[i] : tops[0];
  top_ = *std::max_element(tops, tops + 8);

  // Bin b: probability exp(-e) with e in [b, b + 1) / kBinsPerUnit, e computed with the same
  // rounding as the probability's exponent, (logit - top) * inv_t, negated (exactly). Two
  // count arrays, alternating, so that runs of one bin do not chain their increments.
  uint16_t* bins = bins_.data();
  int32_t* counts = bin_counts_.data();
  std::fill(bin_counts_.begin(), bin_counts_.end(), 0);
  const double top = top_, scale = inv_t * kBinsPerUnit;
  // A non-finite best logit or 1 / T (a subnormal T) makes probabilities NaN; only the full
  // sort says what the definition does with those.
  if (!std::isfinite(top) || !std::isfinite(scale)) return sample_sorted(p, inv_t, uniform_draw);
  for (i = 0; i < v; ++i) {
    // (top - l) * inv_t, then * 64 exactly: the same as scaling by inv_t * 64 only because
    // kBinsPerUnit is a power of two.
    const double scaled = (top - w[i]) * scale;
    const int b = scaled < kNumBins - 1 ? static_cast<int>(scaled) : kNumBins - 1;
    bins[i] = static_cast<uint16_t>(b);
    ++counts[(i & 1) * kNumBins + b];
  }
  for (int b = 0; b < kNumBins; ++b) counts[b] += counts[kNumBins + b];
  const int n = p.top_k > 0 && p.top_k < vocab_ ? p.top_k : vocab_;
  // last_bin: the bin of the n-th best candidate; before_last: the candidates in bins before it.
  int last_bin = 0, before_last = 0;
  while (before_last + bin_counts_[static_cast<size_t>(last_bin)] < n)
    before_last += bin_counts_[static_cast<size_t>(last_bin++)];

  int k = 0, done_bin = -1, target = std::min(n, kFirstPrefix);
  for (;;) {
    // The fewest whole bins holding the target count (cut to n in the last bin).
    int to_bin = done_bin, count = k;
    while (to_bin < last_bin && count < target) count += bin_counts_[static_cast<size_t>(++to_bin)];
    k = extend_prefix(k, done_bin, to_bin, n, inv_t);
    done_bin = to_bin;
    // The probability of the candidates beyond the prefix, bounded by their bins' edges (each
    // edge within an ulp of exp, each sum of at most kNumBins terms: 1e-11 covers both).
    double tail_lo = 0, tail_hi = 0;
    for (int b = done_bin + 1; b <= last_bin; ++b) {
      const double c = b < last_bin ? bin_counts_[static_cast<size_t>(b)] : n - before_last;
      tail_hi += c * bin_edges_[static_cast<size_t>(b)];
      if (b < kNumBins - 1) tail_lo += c * bin_edges_[static_cast<size_t>(b + 1)];
    }
    const int32_t chosen =
        choose(p, k, n, tail_lo * (1 - 1e-11), tail_hi * (1 + 1e-11), uniform_draw);
    if (chosen >= 0) return chosen;
    target = k > n / 8 ? n : k * 8;
  }
}

int Sampler::extend_prefix(int k, int from, int to, int n, double inv_t) {
  int end = k;
  for (int i = 0; i < vocab_; ++i) {
    const int b = bins_[static_cast<size_t>(i)];
    if (b > from && b <= to)
      keys_[static_cast<size_t>(end++)] = candidate_key(work_[static_cast<size_t>(i)], i);
  }
  const auto keys = keys_.begin();
  if (end > n) {  // the last bin straddles the n-th candidate
    std::nth_element(keys + k, keys + n, keys + end);
    end = n;
  }
  std::sort(keys + k, keys + end);
  for (int i = k; i < end; ++i) {
    probs_[static_cast<size_t>(i)] = std::exp(
        (work_[static_cast<size_t>(key_id(keys_[static_cast<size_t>(i)]))] - top_) * inv_t);
  }
  return end;
}

int32_t Sampler::sample_sorted(const SamplingParams& p, double inv_t, double uniform_draw) {
  const int n = p.top_k > 0 && p.top_k < vocab_ ? p.top_k : vocab_;
  const auto keys = keys_.begin();
  const float* w = work_.data();
  if (n <= kFirstPrefix) {
    // A few candidates: a bounded max-heap of keys (the worst kept on top), as partial_sort
    // does, skipping on one float compare every logit that cannot enter it (an equal logit
    // comes later, so its id is larger: worse).
    for (int i = 0; i < n; ++i) keys_[static_cast<size_t>(i)] = candidate_key(w[i], i);
    std::make_heap(keys, keys + n);
    float worst = w[key_id(keys_[0])];
    for (int i = n; i < vocab_; ++i) {
      if (w[i] <= worst) continue;
      std::pop_heap(keys, keys + n);
      keys_[static_cast<size_t>(n - 1)] = candidate_key(w[i], i);
      std::push_heap(keys, keys + n);
      worst = w[key_id(keys_[0])];
    }
    std::sort_heap(keys, keys + n);
  } else {
    for (int i = 0; i < vocab_; ++i) keys_[static_cast<size_t>(i)] = candidate_key(w[i], i);
    if (n < vocab_) std::nth_element(keys, keys + n, keys_.end());
    std::sort(keys, keys + n);
  }
  top_ = w[key_id(keys_[0])];
  for (int i = 0; i < n; ++i)
    probs_[static_cast<size_t>(i)] =
        std::exp((w[key_id(keys_[static_cast<size_t>(i)])] - top_) * inv_t);
  return choose(p, n, n, 0, 0, uniform_draw);
}

int32_t Sampler::choose(const SamplingParams& p, int k, int n, double tail_lo, double tail_hi,
                        double uniform_draw) const {
  const double* probs = probs_.data();
  auto id = [&](int i) { return key_id(keys_[static_cast<size_t>(i)]); };
  // min-p: drop candidates below min_p times the best one's probability.
  if (p.min_p > 0) {
    int keep = 1;
    while (keep < k && probs[keep] >= p.min_p * probs[0]) ++keep;
    if (keep == k && k < n) return -1;  // the cut lies beyond the prefix
    n = keep;
  }
  // The normaliser: the best-first sum of the n candidates' probabilities. With all of them in
  // the prefix it is that sum exactly. Otherwise it lies in [total_lo, total_hi]: the exact sum
  // is within the prefix's sum plus the tail's bounds, and a best-first sum of n non-negative
  // terms within gamma_(n-1) of the exact one (Higham); 4 (n + 2) units of roundoff cover that
  // and the arithmetic here. A decision stands only if it holds over the whole interval.
  double prefix = 0;
  for (int i = 0; i < std::min(k, n); ++i) prefix += probs[i];
  double total_lo = prefix, total_hi = prefix;
  if (n > k) {
    const double slack = 4.0 * (n + 2) * kUnitRoundoff;
    total_lo = (prefix + tail_lo) * (1 - slack);
    total_hi = (prefix + tail_hi) * (1 + slack);
  }
  // top-p: the smallest best-first prefix whose mass reaches top_p. Its partial sums are exact;
  // the cut is certain once one reaches the threshold's upper bound.
  if (p.top_p < 1.0) {
    const double threshold_lo = p.top_p * total_lo, threshold_hi = p.top_p * total_hi;
    const int m = std::min(k, n);
    double cum = 0;
    int keep = 0;
    while (keep < m && cum < threshold_lo) cum += probs[keep++];
    if (n > k && cum < threshold_hi) return -1;
    n = std::max(keep, 1);
    total_lo = 0;
    for (int i = 0; i < n; ++i) total_lo += probs[i];
    total_hi = total_lo;
  }
  // The draw, walked best first. Rounding is monotonic, so the walk stops no earlier from a
  // larger start: when both bounds stop at the same candidate, so does the best-first sum.
  double u_lo = uniform_draw * total_lo, u_hi = uniform_draw * total_hi;
  for (int i = 0; i < std::min(k, n); ++i) {
    u_lo -= probs[i];
    u_hi -= probs[i];
    if (u_hi < 0) return id(i);
    if (u_lo < 0) return -1;
  }
  return n <= k ? id(n - 1) : -1;
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
  const int k = std::min(top_n, vocab_);
  for (int i = 0; i < vocab_; ++i)
    keys_[static_cast<size_t>(i)] = candidate_key(logits[static_cast<size_t>(i)], i);
  std::nth_element(keys_.begin(), keys_.begin() + (k - 1), keys_.end());
  std::sort(keys_.begin(), keys_.begin() + (k - 1));
  for (int i = 0; i < k; ++i) {
    const int32_t id = key_id(keys_[static_cast<size_t>(i)]);
    out->top.push_back({id, lp(id)});
  }
}

}  // namespace llm
