// The f32 CPU forward pass against logits from an independent float64 implementation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/backend/cpu_backend.h"
#include "engine/model_runner.h"

namespace llm {
namespace {

const std::string kModel = std::string(LLM_SOURCE_DIR) + "/models/stories260K";

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

struct Fixture {
  explicit Fixture(DType weights = DType::kF32) : model(backend, ck, weights) {}
  Checkpoint ck = Checkpoint::open(kModel);
  CpuBackend backend;
  LlamaModel model;
  KvCache cache{backend, ck.config(), 64, 16, DType::kF32};
};

// Runs `ids` as one prefill, or in chunks of `chunk` tokens, on shuffled blocks; returns the
// last position's logits.
std::vector<float> last_logits(Fixture& f, const std::vector<int32_t>& ids, int chunk) {
  ModelRunner runner(f.backend, f.model, f.cache, 512, 4);
  // Blocks in a scrambled order: attention must follow the table, not assume contiguity.
  std::vector<int32_t> table;
  for (int b = 0; b < 32; ++b) table.push_back((b * 37 + 11) % 64);
  std::vector<float> out;
  for (size_t start = 0; start < ids.size(); start += static_cast<size_t>(chunk)) {
    const size_t n = std::min(ids.size() - start, static_cast<size_t>(chunk));
    const bool last = start + n == ids.size();
    BatchEntry e{std::span<const int32_t>(ids).subspan(start, n), static_cast<int>(start), table,
                 last};
    auto logits = runner.execute({&e, 1});
    if (last) out.assign(logits.begin(), logits.end());
  }
  return out;
}

TEST(ModelReference, LogitsWithin1e4OfTheFloat64Reference) {
  Fixture f;
  const auto refs =
      read_jsonl(std::string(LLM_SOURCE_DIR) + "/tests/data/stories260K/logits.jsonl");
  ASSERT_EQ(refs.size(), 3u);
  for (const auto& ref : refs) {
    const auto ids = ref["prompt_token_ids"].get<std::vector<int32_t>>();
    const auto expected = ref["logits"].get<std::vector<double>>();
    for (int chunk : {512, 3, 1}) {
      const std::vector<float> got = last_logits(f, ids, chunk);
      ASSERT_EQ(got.size(), expected.size());
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(got[i] - expected[i]));
      EXPECT_LE(worst, 1e-4) << ref["prompt"] << " in chunks of " << chunk;
      if (chunk == 512)
        std::cout << "max |logit - reference| for " << ref["prompt"] << ": " << worst << "\n";
    }
  }
}

// 16-bit weights move the logits by about the weights' rounding (2^-9 relative for bf16, 2^-12
// for f16) carried through the layers; the bound is a few times what was measured.
TEST(ModelReference, SixteenBitWeightsStayWithinTheirRoundingOfTheReference) {
  const auto refs =
      read_jsonl(std::string(LLM_SOURCE_DIR) + "/tests/data/stories260K/logits.jsonl");
  for (const auto& [dtype, bound] : {std::pair{DType::kBF16, 0.2}, std::pair{DType::kF16, 0.03}}) {
    Fixture f(dtype);
    for (const auto& ref : refs) {
      const auto ids = ref["prompt_token_ids"].get<std::vector<int32_t>>();
      const auto expected = ref["logits"].get<std::vector<double>>();
      const std::vector<float> got = last_logits(f, ids, 512);
      ASSERT_EQ(got.size(), expected.size());
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(got[i] - expected[i]));
      EXPECT_LE(worst, bound) << dtype_name(dtype) << " " << ref["prompt"];
      std::cout << dtype_name(dtype) << " max |logit - reference| for " << ref["prompt"] << ": "
                << worst << "\n";
    }
  }
}

TEST(ModelReference, BatchedRowsEqualSingleRows) {
  // Two sequences in one step give bit-identical logits to each alone.
  Fixture f;
  const std::vector<int32_t> a = {1, 400, 300, 301, 302}, b = {1, 260, 261};
  const std::vector<float> alone_a = last_logits(f, a, 512);
  const std::vector<float> alone_b = last_logits(f, b, 512);
  ModelRunner runner(f.backend, f.model, f.cache, 512, 4);
  const std::vector<int32_t> ta = {5, 6}, tb = {9, 10};
  BatchEntry entries[2] = {{a, 0, ta, true}, {b, 0, tb, true}};
  const auto logits = runner.execute(entries);
  const size_t V = alone_a.size();
  EXPECT_TRUE(std::equal(alone_a.begin(), alone_a.end(), logits.begin()));
  EXPECT_TRUE(
      std::equal(alone_b.begin(), alone_b.end(), logits.begin() + static_cast<ptrdiff_t>(V)));
}

}  // namespace
}  // namespace llm
