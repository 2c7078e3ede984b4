#include "tests/engine/engine_test_util.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
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

int check_greedy_where_the_margin_is_clear(Engine& engine, const std::string& label) {
  std::ifstream in(std::string(LLM_SOURCE_DIR) + "/tests/data/stories260K/greedy.jsonl");
  std::vector<nlohmann::json> refs;
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (std::string line; std::getline(in, line);) {
    refs.push_back(nlohmann::json::parse(line));
    streams.push_back(engine.submit(greedy_request(
        refs.back()["prompt_token_ids"].get<std::vector<int32_t>>(), refs.back()["max_tokens"])));
  }
  EXPECT_EQ(refs.size(), 8u);
  int compared = 0;
  for (size_t r = 0; r < refs.size(); ++r) {
    const auto got = collect(*streams[r], 1).at(0).token_ids;
    const auto want = refs[r]["output_token_ids"].get<std::vector<int32_t>>();
    const auto margins = refs[r]["top2_margins"].get<std::vector<double>>();
    EXPECT_EQ(got.size(), want.size()) << label << " " << refs[r]["prompt"];
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
      if (margins[i] > 0.05) {
        EXPECT_EQ(got[i], want[i]) << label << " " << refs[r]["prompt"] << " token " << i
                                   << " (margin " << margins[i] << ")";
        if (got[i] != want[i]) break;
        ++compared;
      } else if (got[i] != want[i]) {
        break;  // a close call went the other way: the rest continues a different text
      }
    }
  }
  return compared;
}

}  // namespace llm::test
