// Structured output in the engine on stories260K: constrained completions follow their grammar
// under sampling, n > 1, preemption and batching with unconstrained requests; a schema or a
// combination the engine cannot honour is refused before anything is queued.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "llm/error.h"
#include "tests/engine/engine_test_util.h"

namespace llm::test {
namespace {

using json = nlohmann::json;

EngineConfig config(int64_t num_blocks = 2048) {
  EngineConfig c;
  c.model_dir = model_dir();
  c.backend = "cpu";
  c.num_blocks = num_blocks;
  return c;
}

const char* kSchema =
    R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":120},"pets":{"type":"array","items":{"enum":["cat","dog"]},"maxItems":3}},"required":["name","age","pets"],"additionalProperties":false})";

Request constrained(std::vector<int32_t> prompt, uint64_t seed, int max_tokens = 80) {
  Request r;
  r.prompt_token_ids = std::move(prompt);
  r.params.temperature = 1.0;
  r.params.seed = seed;
  r.params.max_tokens = max_tokens;
  r.params.structured_output =
      StructuredOutput{StructuredOutput::Kind::kJsonSchema, kSchema, "response_format"};
  return r;
}

// What the schema says, checked by hand (the server tests validate with the jsonschema package).
void expect_valid(const std::string& text) {
  const json j = json::parse(text);  // throws on invalid JSON
  ASSERT_TRUE(j.is_object()) << text;
  EXPECT_EQ(j.size(), 3u) << text;
  EXPECT_TRUE(j.at("name").is_string() && j["name"].get<std::string>().size() <= 12) << text;
  EXPECT_TRUE(j.at("age").is_number_integer() && j["age"] >= 0 && j["age"] <= 120) << text;
  ASSERT_TRUE(j.at("pets").is_array() && j["pets"].size() <= 3) << text;
  for (const json& p : j["pets"]) EXPECT_TRUE(p == "cat" || p == "dog") << text;
}

void wait_until_idle(Engine& engine) {
  for (int i = 0; i < 500 && engine.stats().kv_blocks_used > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TEST(StructuredOutput, SampledCompletionsThatStopMatchTheSchema) {
  auto engine = Engine::create(config());
  Request r = constrained(random_prompt(12, 3), 11);
  r.params.n = 8;
  auto stream = engine->submit(r);
  int stopped = 0;
  for (const Completion& c : collect(*stream, 8)) {
    if (c.finish != FinishReason::kStop) {
      EXPECT_EQ(c.finish, FinishReason::kLength);
      continue;
    }
    ++stopped;
    expect_valid(c.text);
  }
  EXPECT_GT(stopped, 0) << "no completion finished: the test checked nothing";
}

// The mask applies on the host to any backend's logits, and a constrained greedy row never takes
// the device-argmax shortcut: the emulated CUDA backend (decode replayed as graphs, split over
// two devices) writes the CPU backend's constrained outputs.
TEST(StructuredOutput, TheEmulatedCudaBackendWritesTheCpuBackendsOutputs) {
  auto run = [](const EngineConfig& c) {
    auto engine = Engine::create(c);
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (uint64_t seed = 0; seed < 4; ++seed) {
      Request r = constrained(random_prompt(10, 20 + seed), 0, 60);
      r.params.temperature = 0.0;
      streams.push_back(engine->submit(r));
    }
    std::vector<Completion> out;
    for (auto& s : streams) out.push_back(collect(*s, 1).at(0));
    return out;
  };
  const auto cpu = run(config());
  EngineConfig simt;
  simt.model_dir = model_dir();
  simt.backend = "simt";
  simt.dtype = "f32";
  simt.cuda_graphs = true;
  simt.tensor_parallel_size = 2;
  simt.max_num_seqs = 8;
  const auto gpu = run(simt);
  int stopped = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_EQ(gpu[i].token_ids, cpu[i].token_ids) << cpu[i].text;
    if (cpu[i].finish == FinishReason::kStop) {
      ++stopped;
      expect_valid(cpu[i].text);
    }
  }
  EXPECT_GT(stopped, 0) << "no completion finished: the test checked nothing";
}

// Preemption recomputes a sequence's KV cache but keeps its tokens, and with them its place in
// the grammar: the outputs equal those of a pool large enough for all.
TEST(StructuredOutput, PreemptionKeepsEachCompletionOnItsGrammar) {
  std::vector<Request> requests;
  for (int i = 0; i < 10; ++i)
    requests.push_back(constrained(random_prompt(30 + i, 40 + i), 100 + i, 60));
  std::vector<Completion> alone;
  {
    auto engine = Engine::create(config());
    for (const Request& r : requests) alone.push_back(collect(*engine->submit(r), 1).at(0));
  }
  auto engine = Engine::create(config(20));
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const Request& r : requests) streams.push_back(engine->submit(r));
  for (size_t i = 0; i < streams.size(); ++i) {
    const Completion c = collect(*streams[i], 1).at(0);
    EXPECT_EQ(c.token_ids, alone[i].token_ids) << i;
    if (c.finish == FinishReason::kStop) expect_valid(c.text);
  }
  EXPECT_GT(engine->stats().num_preemptions, 0);
  wait_until_idle(*engine);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

// Constrained rows need logits; greedy unconstrained rows in the same step may take the
// argmax path. Neither changes the other.
TEST(StructuredOutput, MixedBatchesLeaveUnconstrainedRequestsAlone) {
  auto engine = Engine::create(config());
  const Request plain = greedy_request(random_prompt(20, 9), 40);
  const Completion ref = collect(*engine->submit(plain), 1).at(0);
  Request choice = greedy_request(random_prompt(20, 10), 40);
  choice.params.ignore_eos = false;
  choice.params.structured_output = StructuredOutput{StructuredOutput::Kind::kChoice,
                                                     R"(["alpha","beta gamma"])", "guided_choice"};
  auto s1 = engine->submit(choice);
  auto s2 = engine->submit(plain);
  const Completion c1 = collect(*s1, 1).at(0);
  EXPECT_EQ(collect(*s2, 1).at(0).token_ids, ref.token_ids);
  EXPECT_EQ(c1.finish, FinishReason::kStop);
  EXPECT_TRUE(c1.text == "alpha" || c1.text == "beta gamma") << c1.text;
}

// min_tokens masks EOS; once the output is a whole choice the grammar allows only EOS, and the
// grammar wins: the completion ends complete rather than being forced past its structure.
TEST(StructuredOutput, TheGrammarEndsTheOutputBeforeMinTokens) {
  auto engine = Engine::create(config());
  Request r = constrained(random_prompt(8, 5), 1, 30);
  r.params.min_tokens = 30;
  r.params.structured_output =
      StructuredOutput{StructuredOutput::Kind::kChoice, R"(["yes"])", "guided_choice"};
  const Completion c = collect(*engine->submit(r), 1).at(0);
  EXPECT_EQ(c.text, "yes");
  EXPECT_EQ(c.finish, FinishReason::kStop);
}

TEST(StructuredOutput, RefusesWhatItCannotHonourBeforeQueueing) {
  auto engine = Engine::create(config());
  struct Bad {
    StructuredOutput spec;
    bool ignore_eos;
    const char* param;
    const char* message;
  };
  const Bad bad[] = {
      {{StructuredOutput::Kind::kJsonSchema, R"({"type":"array","uniqueItems":true})",
        "response_format"},
       false,
       "response_format",
       "uniqueItems"},
      {{StructuredOutput::Kind::kRegex, "a(?=b)", "guided_regex"},
       false,
       "guided_regex",
       "regular expression"},
      {{StructuredOutput::Kind::kJsonObject, "", "response_format"},
       true,
       "ignore_eos",
       "ignore_eos"},
  };
  for (const Bad& b : bad) {
    Request r = constrained(random_prompt(8, 1), 1);
    r.params.structured_output = b.spec;
    r.params.ignore_eos = b.ignore_eos;
    try {
      engine->submit(r);
      ADD_FAILURE() << "accepted " << b.spec.spec;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(e.param(), b.param);
      EXPECT_NE(std::string(e.what()).find(b.message), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
  EXPECT_EQ(engine->stats().waiting, 0);
  // And it still serves.
  EXPECT_EQ(
      collect(*engine->submit(constrained(random_prompt(8, 2), 2, 5)), 1).at(0).num_finish_events,
      1);
}

}  // namespace
}  // namespace llm::test
