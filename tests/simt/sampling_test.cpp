// kernels/cuda/sampling.cu (argmax and log-softmax over logits rows) run by the emulator,
// against host references; outputs poisoned first so unwritten elements fail.
#include "kernels/cuda/sampling.h"
// (cuda_api.h first: the emulator's names before the engine's headers.)
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "engine/sampler.h"

namespace {

// Device copy of a host array, freed on destruction.
template <typename T>
struct DeviceArray {
  explicit DeviceArray(const std::vector<T>& host) : n(host.size()) {
    EXPECT_EQ(cudaMalloc(&ptr, n * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceArray() { cudaFree(ptr); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  std::vector<T> get() const {
    std::vector<T> out(n);
    EXPECT_EQ(cudaMemcpy(out.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return out;
  }
  T* ptr = nullptr;
  std::size_t n;
};

// Rows of vocab 1 (a degenerate row), 77 (under one block), 512 (stories260K) and 32000 (Llama 2).
const long long kVocabs[] = {1, 77, 512, 32000};

std::vector<float> random_logits(long long rows, long long vocab, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  std::vector<float> v(static_cast<std::size_t>(rows * vocab));
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(SimtSampling, ArgmaxPicksTheLargestAndTheFirstOnTies) {
  const long long rows = 3;
  for (long long vocab : kVocabs) {
    std::vector<float> logits = random_logits(rows, vocab, static_cast<unsigned>(vocab));
    if (vocab > 100) {
      // Row 1: a tie between two far-apart entries; the smaller index wins.
      logits[static_cast<std::size_t>(vocab + 90)] = 100.0f;
      logits[static_cast<std::size_t>(vocab + vocab - 1)] = 100.0f;
    }
    DeviceArray<float> d(logits);
    DeviceArray<int> ids(std::vector<int>(rows, -1));
    llm::cuda::argmax(d.ptr, rows, vocab, ids.ptr, nullptr);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    const std::vector<int> got = ids.get();
    for (long long r = 0; r < rows; ++r) {
      int want = 0;
      for (long long i = 1; i < vocab; ++i) {
        if (logits[static_cast<std::size_t>(r * vocab + i)] >
            logits[static_cast<std::size_t>(r * vocab + want)])
          want = static_cast<int>(i);
      }
      EXPECT_EQ(got[static_cast<std::size_t>(r)], want) << "vocab " << vocab << " row " << r;
    }
  }
}

TEST(SimtSampling, LogSoftmaxMatchesFloat64) {
  const long long rows = 2;
  for (long long vocab : kVocabs) {
    const std::vector<float> logits = random_logits(rows, vocab, 99 + static_cast<unsigned>(vocab));
    DeviceArray<float> d(logits);
    DeviceArray<float> out(std::vector<float>(logits.size(), NAN));
    llm::cuda::log_softmax(d.ptr, rows, vocab, out.ptr, nullptr);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    const std::vector<float> got = out.get();
    for (long long r = 0; r < rows; ++r) {
      double m = -INFINITY, sum = 0;
      for (long long i = 0; i < vocab; ++i) m = std::max<double>(m, logits[r * vocab + i]);
      for (long long i = 0; i < vocab; ++i) sum += std::exp(logits[r * vocab + i] - m);
      for (long long i = 0; i < vocab; ++i) {
        const double want = logits[r * vocab + i] - m - std::log(sum);
        ASSERT_NEAR(got[r * vocab + i], want, 1e-5 * (1 + std::abs(want)))
            << "vocab " << vocab << " row " << r << " index " << i;
      }
    }
    // In place (out aliasing logits) gives the same values.
    llm::cuda::log_softmax(d.ptr, rows, vocab, d.ptr, nullptr);
    EXPECT_EQ(d.get(), got) << "vocab " << vocab;
  }
}

}  // namespace

namespace {

// The device sampler against the host's (engine/sampler.h) on fresh random rows: logits with
// ties and -inf entries, every parameter shape (temperature alone, top-k small and large, top-p,
// min-p, all together, greedy, penalties, logprobs), one draw per row given to both. Every row must
// pick the same token (sums in another order could differ only within rounding of a boundary).
TEST(SimtSampling, DeviceSamplingPicksTheHostSamplersToken) {
  std::mt19937_64 rng(2026);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int rows_checked = 0, distinct_tokens = 0, rows_with_logprobs = 0;
  for (const long long vocab : {64LL, 512LL, 3001LL}) {
    const long long rows = 30;
    std::vector<float> logits = random_logits(rows, vocab, static_cast<unsigned>(vocab));
    std::vector<llm::cuda::SampleRow> params(static_cast<size_t>(rows));
    std::vector<llm::SamplingParams> host(static_cast<size_t>(rows));
    std::vector<std::pair<std::vector<int32_t>, std::vector<int32_t>>> contexts(
        static_cast<size_t>(rows));
    std::vector<int> pen_ids, pen_counts;
    for (long long r = 0; r < rows; ++r) {
      float* row = &logits[static_cast<size_t>(r * vocab)];
      // Ties with the best logit, and tokens that can never be chosen.
      if (r % 3 == 0) row[vocab / 2] = *std::max_element(row, row + vocab);
      if (r % 4 == 1) row[(r * 7) % vocab] = -INFINITY;
      llm::SamplingParams& p = host[static_cast<size_t>(r)];
      p.temperature = r % 12 == 11 ? 0.0 : 0.3 + 1.4 * unit(rng);
      switch (r % 6) {
        case 1:
          p.top_k = 1 + static_cast<int>(r % 7);
          break;
        case 2:
          p.top_p = 0.2 + 0.75 * unit(rng);
          break;
        case 3:
          p.min_p = 0.02 + 0.3 * unit(rng);
          break;
        case 4:
          p.top_k = 40;
          p.top_p = 0.9;
          p.min_p = 0.05;
          break;
        case 5:
          p.top_k = static_cast<int>(vocab) + 5;
          break;
        default:
          break;
      }
      p.logprobs = std::array<int, 5>{-1, 0, 1, 5, 20}[static_cast<size_t>(r % 5)];
      llm::cuda::SampleRow& d = params[static_cast<size_t>(r)];
      d.logprobs = p.logprobs;
      // Penalties on every third row: a prompt and an output with repeats, listed as the engine
      // lists them (distinct ids, their output counts).
      auto& [prompt, output] = contexts[static_cast<size_t>(r)];
      if (r % 3 == 2) {
        p.repetition_penalty = 1.1 + unit(rng);
        p.presence_penalty = 2.0 * unit(rng) - 0.5;
        p.frequency_penalty = unit(rng);
        std::uniform_int_distribution<int> id(0, static_cast<int>(vocab) - 1);
        // The row's best tokens are among them, so the penalties change the outcome; every
        // other such row is shifted below zero, where the repetition penalty multiplies.
        if (r % 2 == 0) {
          for (long long i = 0; i < vocab; ++i) row[i] -= 30.0f;
        }
        std::vector<int> order(static_cast<size_t>(vocab));
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + 4, order.end(),
                          [&](int a, int b) { return row[a] > row[b]; });
        prompt.assign(order.begin(), order.begin() + 3);
        output.push_back(order[3]);
        for (int i = 0; i < 12; ++i) prompt.push_back(id(rng));
        for (int i = 0; i < 9; ++i) output.push_back(i % 3 == 0 && i > 0 ? output[0] : id(rng));
        std::map<int, int> counts;
        for (int t : prompt) counts.emplace(t, 0);
        for (int t : output) ++counts[t];
        d.penalty_begin = static_cast<int>(pen_ids.size());
        for (const auto& [t, c] : counts) {
          pen_ids.push_back(t);
          pen_counts.push_back(c);
        }
        d.penalty_end = static_cast<int>(pen_ids.size());
        d.repetition = p.repetition_penalty;
        d.presence = p.presence_penalty;
        d.frequency = p.frequency_penalty;
      }
      d.inv_temperature = p.temperature > 0 ? 1.0 / p.temperature : 0.0;
      d.top_k = p.top_k;
      d.top_p = p.top_p;
      d.min_p = p.min_p;
      d.draw = unit(rng);
    }
    DeviceArray<float> d_logits(logits);
    DeviceArray<llm::cuda::SampleRow> d_params(params);
    DeviceArray<int> ids(std::vector<int>(static_cast<size_t>(rows), -1));
    pen_ids.insert(pen_ids.end(), pen_counts.begin(), pen_counts.end());
    DeviceArray<int> d_pen(pen_ids);
    DeviceArray<float> work(std::vector<float>(logits.size(), NAN));
    llm::cuda::apply_penalties(d_logits.ptr, work.ptr, rows, vocab, d_params.ptr, d_pen.ptr,
                               d_pen.ptr + pen_counts.size(), nullptr);
    llm::cuda::sample(work.ptr, rows, vocab, d_params.ptr, ids.ptr, nullptr);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    const std::vector<int> got = ids.get();
    constexpr int kTop = llm::cuda::kMaxTopLogprobs;
    DeviceArray<float> lp_values(std::vector<float>(static_cast<size_t>(rows * (1 + kTop)), NAN));
    DeviceArray<int> lp_ids(std::vector<int>(static_cast<size_t>(rows * kTop), -1));
    llm::cuda::logprobs(d_logits.ptr, rows, vocab, d_params.ptr, ids.ptr, lp_values.ptr, lp_ids.ptr,
                        nullptr);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    const std::vector<float> values = lp_values.get();
    const std::vector<int> top_ids = lp_ids.get();
    llm::Sampler sampler(static_cast<int>(vocab));
    std::set<int> seen;
    for (long long r = 0; r < rows; ++r) {
      std::mt19937_64 unused(0);
      const std::span<const float> row(&logits[static_cast<size_t>(r * vocab)],
                                       static_cast<size_t>(vocab));
      llm::LogprobEntry lp;
      const llm::SamplingParams& hp = host[static_cast<size_t>(r)];
      const auto& [prompt, output] = contexts[static_cast<size_t>(r)];
      const llm::SamplingContext ctx{prompt, output, {}};
      const int want = sampler.sample(row, hp, ctx, unused, hp.logprobs >= 0 ? &lp : nullptr,
                                      params[static_cast<size_t>(r)].draw);
      EXPECT_EQ(got[static_cast<size_t>(r)], want) << "vocab " << vocab << " row " << r;
      if (hp.logprobs >= 0) {
        // The normaliser is summed in another order: equal, or one float ulp apart.
        const float* v = &values[static_cast<size_t>(r * (1 + kTop))];
        EXPECT_NEAR(v[0], lp.sampled.logprob, 4e-7f * std::max(1.0f, std::abs(v[0])));
        ASSERT_EQ(lp.top.size(), static_cast<size_t>(std::min<long long>(hp.logprobs, vocab)));
        for (size_t j = 0; j < lp.top.size(); ++j) {
          EXPECT_EQ(top_ids[static_cast<size_t>(r * kTop) + j], lp.top[j].token_id) << "row " << r;
          EXPECT_NEAR(v[1 + j], lp.top[j].logprob, 4e-7f * std::max(1.0f, std::abs(v[1 + j])));
        }
        ++rows_with_logprobs;
      }
      seen.insert(want);
      ++rows_checked;
    }
    distinct_tokens += static_cast<int>(seen.size());
  }
  std::cout << "device sampling: " << rows_checked << " rows agree with the host sampler ("
            << distinct_tokens << " distinct tokens), " << rows_with_logprobs
            << " with their logprobs\n";
}

}  // namespace
