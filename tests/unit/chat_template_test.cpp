// The chat-template goldens (tests/data/chat_templates): every rendering byte-identical to
// Python's Jinja2 as transformers sets it up, every raise_exception message exact.
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/jinja_test_support.h"
#include "tokenizer/chat_template_source.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

const fs::path kDataDir = fs::path(LLM_SOURCE_DIR) / "tests" / "data" / "chat_templates";

// The goldens were made with strftime_now fixed to 2026-01-15 00:00:00 (a Thursday).
using jinja_test::fixed_strftime;

Json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return Json::parse(in);
}

struct Record {
  std::string name;  // template_id/case, for the test name
  Json json;
};

std::vector<Record> load_records() {
  std::vector<Record> records;
  std::ifstream in(kDataDir / "renderings.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    Json j = Json::parse(line);
    records.push_back(
        {j["template_id"].get<std::string>() + "/" + j["case"].get<std::string>(), std::move(j)});
  }
  return records;
}

const Json& templates() {
  static const Json t = read_json(kDataDir / "templates.json");
  return t;
}

ChatTemplate::Inputs inputs_for(const Json& record) {
  ChatTemplate::Inputs inputs;
  inputs.messages = record["messages"];
  inputs.tools = record["tools"];
  inputs.add_generation_prompt = record["add_generation_prompt"].get<bool>();
  if (!record["bos_token"].is_null()) inputs.bos_token = record["bos_token"].get<std::string>();
  if (!record["eos_token"].is_null()) inputs.eos_token = record["eos_token"].get<std::string>();
  inputs.strftime_now = fixed_strftime;
  // Extra template variables (e.g. Qwen3's enable_thinking), as chat_template_kwargs passes them.
  if (record.contains("kwargs")) inputs.extra_variables = record["kwargs"];
  return inputs;
}

class GoldenTest : public ::testing::TestWithParam<Record> {};

TEST_P(GoldenTest, RendersLikeJinja2) {
  const Json& record = GetParam().json;
  const Json& entry = templates().at(record["template_id"].get<std::string>());
  const ChatTemplate tmpl = ChatTemplate::compile(entry["chat_template"].get<std::string>());
  const ChatTemplate::Inputs inputs = inputs_for(record);
  if (record.contains("expected")) {
    EXPECT_EQ(tmpl.render(inputs), record["expected"].get<std::string>());
  } else {
    const std::string expected = record["expected_error"].get<std::string>();
    try {
      const std::string out = tmpl.render(inputs);
      ADD_FAILURE() << "rendered instead of failing with \"" << expected << "\":\n" << out;
    } catch (const ChatTemplateError& e) {
      // TemplateError: the template's raise_exception message, verbatim. Any other error_type is
      // a Python runtime error inside the template: the render must fail, in its own words.
      const bool raised = record["error_type"].get<std::string>() == "TemplateError";
      if (raised) {
        EXPECT_EQ(std::string(e.what()), expected);
      }
      EXPECT_EQ(e.raised(), raised) << e.what();
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  }
}

std::string test_name(const ::testing::TestParamInfo<Record>& info) {
  std::string name;
  for (char c : info.param.name) {
    name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(ChatTemplates, GoldenTest, ::testing::ValuesIn(load_records()), test_name);

TEST(GoldenData, HasAllRecords) {
  const std::vector<Record> records = load_records();
  EXPECT_EQ(records.size(), 106u);
  size_t errors = 0, raised = 0, with_kwargs = 0;
  for (const Record& r : records) {
    errors += r.json.contains("expected_error") ? 1 : 0;
    raised += r.json.value("error_type", std::string()) == "TemplateError" ? 1 : 0;
    with_kwargs += r.json.contains("kwargs") ? 1 : 0;
  }
  EXPECT_EQ(errors, 10u);
  EXPECT_EQ(raised, 7u);
  EXPECT_EQ(with_kwargs, 20u);
  EXPECT_EQ(templates().size(), 10u);
}

// A compiled template is immutable: one instance serves concurrent renders, each producing
// exactly what a render on its own produces.
TEST(GoldenData, CompiledTemplateRendersConcurrently) {
  const std::vector<Record> records = load_records();
  std::vector<ChatTemplate> compiled;
  std::vector<ChatTemplate::Inputs> inputs;
  std::vector<std::string> expected;
  for (const Record& r : records) {
    if (!r.json.contains("expected")) continue;
    const Json& entry = templates().at(r.json["template_id"].get<std::string>());
    compiled.push_back(ChatTemplate::compile(entry["chat_template"].get<std::string>()));
    inputs.push_back(inputs_for(r.json));
    expected.push_back(r.json["expected"].get<std::string>());
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = 0; i < compiled.size(); ++i) {
          if (compiled[i].render(inputs[i]) != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

// A list of named templates with malformed entries: those are skipped (a missing "template"
// was read through const operator[], undefined behaviour; a non-string "name" threw).
TEST(ChatTemplateSource, NamedListSkipsMalformedEntries) {
  const fs::path dir =
      fs::temp_directory_path() / ("chat_template_source_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"chat_template": [{"name": "default"}, {"name": 5, "template": "A"}, 7,)"
      << R"( {"name": "tool_use", "template": "B"}, {"name": "default", "template": "T"}]})";
  const ChatTemplateSource source = load_chat_template_source(dir);
  EXPECT_EQ(source.source, "T");
  EXPECT_FALSE(source.is_fallback);
  std::ofstream(dir / "tokenizer_config.json") << R"({"chat_template": [{"name": "default"}]})";
  EXPECT_TRUE(load_chat_template_source(dir).is_fallback);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace llm
