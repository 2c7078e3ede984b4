#include "tests/engine/engine_test_util.h"

#include <gtest/gtest.h>

#include <random>

namespace llm::test {

std::vector<Completion> collect(RequestStream& stream, int n, std::chrono::seconds timeout) {
  std::vector<Completion> out(static_cast<size_t>(n));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!stream.done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "request " << stream.request_id() << " did not finish in time";
      break;
    }
    auto ev = stream.next(std::chrono::milliseconds(100));
    if (!ev) continue;
    Completion& c = out.at(static_cast<size_t>(ev->index));
    EXPECT_EQ(c.num_finish_events, 0) << "event after the finish event of completion " << ev->index;
    c.token_ids.insert(c.token_ids.end(), ev->token_ids.begin(), ev->token_ids.end());
    c.text += ev->text;
    c.logprobs.insert(c.logprobs.end(), ev->logprobs.begin(), ev->logprobs.end());
    if (ev->finish) {
      ++c.num_finish_events;
      c.finish = *ev->finish;
      c.usage = ev->usage;
    }
  }
  return out;
}

Request greedy_request(std::vector<int32_t> prompt, int max_tokens) {
  Request r;
  r.prompt_token_ids = std::move(prompt);
  r.params.temperature = 0;
  r.params.max_tokens = max_tokens;
  r.params.ignore_eos = true;  // fixed lengths make comparisons exact
  return r;
}

std::vector<int32_t> random_prompt(int len, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids{1};  // BOS
  // stories260K: 0-2 are control tokens, 3-258 byte pieces, 259-511 merged pieces.
  std::uniform_int_distribution<int32_t> dist(259, 511);
  while (static_cast<int>(ids.size()) < len) ids.push_back(dist(rng));
  return ids;
}

}  // namespace llm::test
