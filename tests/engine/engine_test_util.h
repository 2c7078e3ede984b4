// Helpers for tests that drive the real Engine on the bundled stories260K model.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "llm/engine.h"

namespace llm::test {

inline std::string model_dir() {
  return std::string(LLM_SOURCE_DIR) + "/models/stories260K";
}

struct Completion {
  std::vector<int32_t> token_ids;
  std::string text;
  std::vector<LogprobEntry> logprobs;
  int num_finish_events = 0;
  FinishReason finish = FinishReason::kAbort;
  Usage usage;
};

// Drains a stream into one Completion per index; fails the test (via the returned count) if an
// event arrives after its completion finished. Bounded: gives up after `timeout`.
std::vector<Completion> collect(RequestStream& stream, int n,
                                std::chrono::seconds timeout = std::chrono::seconds(120));

Request greedy_request(std::vector<int32_t> prompt, int max_tokens);

// A prompt of exactly `len` ids drawn from ordinary (non-control, non-byte) tokens, seeded.
std::vector<int32_t> random_prompt(int len, uint64_t seed);

// Submits the eight stories260K greedy references at once and expects each token to match
// wherever the reference's top-2 logit margin exceeds 0.05 (16-bit rounding may flip a closer
// call; past a flip the reference no longer applies). Returns the tokens compared.
int check_greedy_where_the_margin_is_clear(Engine& engine, const std::string& label);

}  // namespace llm::test
