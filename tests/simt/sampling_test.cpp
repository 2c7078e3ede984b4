// kernels/cuda/sampling.cu (argmax and log-softmax over logits rows) run by the emulator,
// against host references; outputs poisoned first so unwritten elements fail.
#include "kernels/cuda/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

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
