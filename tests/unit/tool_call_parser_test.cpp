// ToolCallParser: a table of model outputs per format with the content and calls they must give,
// each also streamed in many random splits (single bytes among them) that must give exactly
// the whole-text result; then what streaming must release early, and the bounds on arbitrary
// input. Arguments that were well formed in the output must parse as JSON.
#include "server/tool_call_parser.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/tool_call_parser_test_support.h"

namespace llm {
namespace {

using tool_call_test::Expected;
using tool_call_test::stream;
using tool_call_test::Streamed;

constexpr auto kHermes = ToolCallFormat::kHermes;
constexpr auto kLlama = ToolCallFormat::kLlama3Json;
constexpr auto kMistral = ToolCallFormat::kMistral;

struct Case {
  std::string title;
  ToolCallFormat format;
  std::string text;
  std::string content;
  std::vector<Expected> calls;
  bool json_arguments = true;  // every call's arguments must parse as JSON
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      // hermes
      {"hermes: plain content", kHermes, "Hello, world!\n", "Hello, world!\n", {}},
      {"hermes: one call",
       kHermes,
       "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
       "\"Paris\"}}\n</tool_call>",
       "",
       {{"get_weather", R"({"city": "Paris"})"}}},
      {"hermes: content before the call",
       kHermes,
       "Let me check.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
       "Let me check.\n",
       {{"f", "{}"}}},
      {"hermes: parallel calls, whitespace between and after dropped",
       kHermes,
       "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n"
       "<tool_call>\n{\"name\": \"b\", \"arguments\": {\"y\": [1, 2]}}\n</tool_call>\n\n",
       "",
       {{"a", R"({"x": 1})"}, {"b", R"({"y": [1, 2]})"}}},
      {"hermes: the final </tool_call> missing",
       kHermes,
       "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": true}}\n",
       "",
       {{"f", R"({"a": true})"}}},
      {"hermes: arguments before the name",
       kHermes,
       R"(<tool_call>{"arguments": {"q": "x"}, "name": "search"}</tool_call>)",
       "",
       {{"search", R"({"q": "x"})"}}},
      {"hermes: braces, brackets, quotes and escapes inside strings",
       kHermes,
       R"(<tool_call>{"name": "run", "arguments": {"code": "if (x) { return \"}\"; } ]\\", "k}": "[{"}}</tool_call>)",
       "",
       {{"run", R"({"code": "if (x) { return \"}\"; } ]\\", "k}": "[{"})"}}},
      {"hermes: unicode, raw and escaped, in name and arguments",
       kHermes,
       "<tool_call>{\"name\": \"tr\\u0061nslate\", \"arguments\": {\"text\": \"h\xC3\xA9llo "
       "\xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x8E\x89\", \"e\": \"\\u00e9\\ud83c\\udf89\"}}"
       "</tool_call>",
       "",
       {{"translate",
         "{\"text\": \"h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x8E\x89\", \"e\": "
         "\"\\u00e9\\ud83c\\udf89\"}"}}},
      {"hermes: extra keys skipped, spaces around colons, a repeated name keeps the first",
       kHermes,
       R"(<tool_call>{ "type" : "function", "name" : "f" , "id": {"x": "}"}, "name": "g", "arguments" : { } }</tool_call>)",
       "",
       {{"f", "{ }"}}},
      {"hermes: arguments that are not an object are passed verbatim",
       kHermes,
       R"(<tool_call>{"name": "a", "arguments": "{\"k\": 1}"}</tool_call><tool_call>{"name": "b", "arguments": 42}</tool_call><tool_call>{"name": "c", "arguments": null }</tool_call>)",
       "",
       {{"a", R"("{\"k\": 1}")"}, {"b", "42"}, {"c", "null"}}},
      {"hermes: a call without arguments gets {}",
       kHermes,
       R"(<tool_call>{"name": "now"}</tool_call>)",
       "",
       {{"now", "{}"}}},
      {"hermes: not JSON inside the tags is content",
       kHermes,
       "<tool_call>\nnot json\n</tool_call>",
       "<tool_call>\nnot json\n</tool_call>",
       {}},
      {"hermes: an object without a name is content",
       kHermes,
       R"(Hi <tool_call>{"arguments": {"a": 1}}</tool_call>)",
       R"(Hi <tool_call>{"arguments": {"a": 1}}</tool_call>)",
       {}},
      {"hermes: a name that is not a string is content",
       kHermes,
       R"(<tool_call>{"name": 5, "arguments": {}}</tool_call>)",
       R"(<tool_call>{"name": 5, "arguments": {}}</tool_call>)",
       {}},
      {"hermes: an empty name is content",
       kHermes,
       R"(<tool_call>{"name": "", "arguments": {}}</tool_call>)",
       R"(<tool_call>{"name": "", "arguments": {}}</tool_call>)",
       {}},
      {"hermes: a bad escape in the name is content",
       kHermes,
       R"(<tool_call>{"name": "f\q", "arguments": {}}</tool_call>)",
       R"(<tool_call>{"name": "f\q", "arguments": {}}</tool_call>)",
       {}},
      {"hermes: the tag mentioned in prose is content",
       kHermes,
       "Wrap calls in <tool_call> tags, close with </tool_call>.",
       "Wrap calls in <tool_call> tags, close with </tool_call>.",
       {}},
      {"hermes: a partial tag at the end is content",
       kHermes,
       "Hello <tool_ca",
       "Hello <tool_ca",
       {}},
      {"hermes: a doubled opening tag: the first is content",
       kHermes,
       R"(<tool_call><tool_call>{"name": "f", "arguments": {}}</tool_call>)",
       "<tool_call>",
       {{"f", "{}"}}},
      {"hermes: text after the calls is content",
       kHermes,
       "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>\nDone.\n",
       "\nDone.",
       {{"f", "{}"}}},
      {"hermes: a malformed second call is content, the first stays",
       kHermes,
       "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>\n<tool_call>oops</tool_call>",
       "\n<tool_call>oops</tool_call>",
       {{"f", "{}"}}},
      {"hermes: the next call without the previous </tool_call>",
       kHermes,
       "<tool_call>{\"name\": \"f\", \"arguments\": {}}\n<tool_call>{\"name\": \"g\", "
       "\"arguments\": {}}</tool_call>",
       "",
       {{"f", "{}"}, {"g", "{}"}}},
      {"hermes: JSON broken after the name: the call keeps what it got, the rest is content",
       kHermes,
       R"(<tool_call>{"name": "f", "arguments": {"a": 1}]</tool_call>)",
       "]</tool_call>",
       {{"f", R"({"a": 1})"}}},
      {"hermes: output cut inside the arguments: the call keeps what it got",
       kHermes,
       R"(<tool_call>{"name": "f", "arguments": {"a": "b)",
       "",
       {{"f", R"({"a": "b)"}},
       false},
      {"hermes: output cut before the arguments: {}",
       kHermes,
       R"(<tool_call>{"name": "f", "argu)",
       "",
       {{"f", "{}"}}},
      {"hermes: output cut before the name is content",
       kHermes,
       R"(<tool_call>{"name": "get_wea)",
       R"(<tool_call>{"name": "get_wea)",
       {}},
      {"hermes: a mismatched bracket in the arguments ends the call",
       kHermes,
       R"(<tool_call>{"name": "f", "arguments": {"a": [1}}</tool_call>)",
       "}}</tool_call>",
       {{"f", R"({"a": [1)"}},
       false},
      // llama3_json
      {"llama3: one call with parameters",
       kLlama,
       R"({"name": "get_weather", "parameters": {"city": "Paris"}})",
       "",
       {{"get_weather", R"({"city": "Paris"})"}}},
      {"llama3: python tag and arguments key",
       kLlama,
       R"(<|python_tag|>{"name": "f", "arguments": {"a": 1}})",
       "",
       {{"f", R"({"a": 1})"}}},
      {"llama3: leading whitespace, calls separated by ';' and by a newline",
       kLlama,
       "\n\n{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"x\": "
       "\"y;\"}}\n{\"name\": \"c\", \"parameters\": {}};\n",
       "",
       {{"a", "{}"}, {"b", R"({"x": "y;"})"}, {"c", "{}"}}},
      {"llama3: plain content", kLlama, "The weather is nice.", "The weather is nice.", {}},
      {"llama3: JSON content that is not a call",
       kLlama,
       R"({"foo": 1} is JSON)",
       R"({"foo": 1} is JSON)",
       {}},
      {"llama3: not JSON", kLlama, "{name: f}", "{name: f}", {}},
      {"llama3: python tag with a builtin call is content",
       kLlama,
       R"(<|python_tag|>brave_search.call(query="x"))",
       R"(<|python_tag|>brave_search.call(query="x"))",
       {}},
      {"llama3: markup that starts with '<' is content", kLlama, "<b>bold</b>", "<b>bold</b>", {}},
      {"llama3: a partial python tag at the end is content", kLlama, " <|pyth", " <|pyth", {}},
      {"llama3: only whitespace is content", kLlama, " \n ", " \n ", {}},
      {"llama3: text after a call is content",
       kLlama,
       R"({"name": "f", "parameters": {}} and more)",
       " and more",
       {{"f", "{}"}}},
      {"llama3: a second candidate without a name is content",
       kLlama,
       R"({"name": "f", "parameters": {}}; {"x": 1} tail)",
       R"(; {"x": 1} tail)",
       {{"f", "{}"}}},
      {"llama3: a call after content is content",
       kLlama,
       R"(Sure: {"name": "f", "parameters": {}})",
       R"(Sure: {"name": "f", "parameters": {}})",
       {}},
      // mistral
      {"mistral: one call",
       kMistral,
       R"([TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}])",
       "",
       {{"get_weather", R"({"city": "Paris"})"}}},
      {"mistral: two calls, spaces, an id key",
       kMistral,
       R"([TOOL_CALLS] [ {"name": "a", "arguments": {"x": 1}, "id": "abcdefghi"} , {"name": "b", "arguments": {}} ])",
       "",
       {{"a", R"({"x": 1})"}, {"b", "{}"}}},
      {"mistral: the bare array at the start (control token decoded away)",
       kMistral,
       "  [{\"name\": \"f\", \"arguments\": {\"a\": [1, {\"b\": null}]}}]\n",
       "",
       {{"f", R"({"a": [1, {"b": null}]})"}}},
      {"mistral: content before the tag",
       kMistral,
       R"(Sure. [TOOL_CALLS][{"name": "f", "arguments": {}}])",
       "Sure. ",
       {{"f", "{}"}}},
      {"mistral: a trailing comma in the array",
       kMistral,
       R"([TOOL_CALLS][{"name": "f", "arguments": {}},])",
       "",
       {{"f", "{}"}}},
      {"mistral: content in brackets",
       kMistral,
       "[1, 2, 3] are numbers; [Note] [ x",
       "[1, 2, 3] are numbers; [Note] [ x",
       {}},
      {"mistral: an empty array is content", kMistral, "[TOOL_CALLS][]", "[TOOL_CALLS][]", {}},
      {"mistral: the tag without an array is content",
       kMistral,
       "[TOOL_CALLS]hello",
       "[TOOL_CALLS]hello",
       {}},
      {"mistral: a partial tag at the end is content", kMistral, "x [TOOL", "x [TOOL", {}},
      {"mistral: a bare array later in the output is content",
       kMistral,
       R"(x [{"name": "f", "arguments": {}}])",
       R"(x [{"name": "f", "arguments": {}}])",
       {}},
      {"mistral: text after the array is content",
       kMistral,
       "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {}}] ok",
       " ok",
       {{"f", "{}"}}},
      {"mistral: an array cut after a call keeps the call",
       kMistral,
       R"([TOOL_CALLS][{"name": "f", "arguments": {}}, )",
       "",
       {{"f", "{}"}}},
  };
  return c;
}

class ToolCallTable : public ::testing::TestWithParam<size_t> {};

TEST_P(ToolCallTable, WholeTextAndEverySplitGiveTheExpectedCalls) {
  const Case& c = cases()[GetParam()];
  SCOPED_TRACE(c.title);
  const ParsedToolCalls got = parse_tool_calls(c.format, c.text, "call_t_");
  EXPECT_EQ(got.content, c.content);
  ASSERT_EQ(got.calls.size(), c.calls.size());
  for (size_t i = 0; i < c.calls.size(); ++i) {
    EXPECT_EQ(got.calls[i].id, "call_t_" + std::to_string(i));
    EXPECT_EQ(got.calls[i].name, c.calls[i].name);
    EXPECT_EQ(got.calls[i].arguments, c.calls[i].arguments);
    if (c.json_arguments) {
      EXPECT_TRUE(nlohmann::json::accept(got.calls[i].arguments)) << got.calls[i].arguments;
    }
  }
  if (c.calls.empty()) {
    EXPECT_EQ(got.content, c.text) << "no call: the text is the content";
  }
  std::mt19937 rng(static_cast<uint32_t>(GetParam()) * 7919 + 1);
  for (int trial = 0; trial < 200; ++trial) {
    const Streamed s = stream(c.format, c.text, tool_call_test::random_split(c.text, trial, rng));
    tool_call_test::expect_same(got, s);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ToolCallTable, ::testing::Range<size_t>(0, cases().size()));

TEST(ToolCallParser, ReleasesContentAndEmitsTheNameAndArgumentsEarly) {
  ToolCallParser p(kHermes, "id_");
  EXPECT_EQ(p.push("Hello <tool_").content, "Hello ");  // only the possible tag is held
  ToolCallParserOutput out = p.push("call>\n{\"name\": \"get_w");
  EXPECT_EQ(out.content, "");
  EXPECT_TRUE(out.tool_calls.empty());
  out = p.push("eather\", \"arguments\": {\"ci");
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].id, "id_0");
  EXPECT_EQ(out.tool_calls[0].name, "get_weather");
  EXPECT_EQ(out.tool_calls[0].arguments, "{\"ci");
  out = p.push("ty\": \"Paris\"");
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].name, "");
  EXPECT_EQ(out.tool_calls[0].id, "");
  EXPECT_EQ(out.tool_calls[0].arguments, "ty\": \"Paris\"");
  out = p.push("}}\n</tool_call>");
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].arguments, "}");
  EXPECT_TRUE(p.finish().tool_calls.empty());
  ASSERT_TRUE(p.has_calls());
  EXPECT_EQ(p.calls()[0].arguments, R"({"city": "Paris"})");
  // After finish, text is content.
  EXPECT_EQ(p.push("<tool_call>").content, "<tool_call>");
}

TEST(ToolCallParser, ArgumentsBeforeTheNameComeWithTheName) {
  ToolCallParser p(kLlama, "c");
  EXPECT_TRUE(p.push(R"({"parameters": {"a": 1}, )").tool_calls.empty());
  const ToolCallParserOutput out = p.push(R"("name": "f"})");
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].name, "f");
  EXPECT_EQ(out.tool_calls[0].arguments, R"({"a": 1})");
}

TEST(ToolCallParser, ContentIsReleasedAtOnceWhenItCannotBeACall) {
  ToolCallParser llama(kLlama, "c");
  EXPECT_EQ(llama.push("  Sure").content, "  Sure");
  ToolCallParser mistral(kMistral, "c");
  EXPECT_EQ(mistral.push("[").content, "");
  EXPECT_EQ(mistral.push("1").content, "[1");
}

TEST(ToolCallParser, FormatNamesAndDetection) {
  for (const auto f : {kHermes, kLlama, kMistral}) {
    EXPECT_EQ(tool_call_format_from_name(tool_call_format_name(f)), f);
  }
  EXPECT_FALSE(tool_call_format_from_name("pythonic").has_value());
  EXPECT_EQ(detect_tool_call_format("{{ '[TOOL_CALLS]' }}"), kMistral);
  EXPECT_EQ(detect_tool_call_format("{{ '<|python_tag|>' }}"), kLlama);
  EXPECT_FALSE(detect_tool_call_format("{\"parameters\": 1}").has_value());
  EXPECT_FALSE(detect_tool_call_format("").has_value());
  const nlohmann::json templates = tool_call_test::chat_templates();
  const std::vector<std::pair<std::string, std::optional<ToolCallFormat>>> expected = {
      {"qwen2.5-instruct", kHermes},
      {"qwen3", kHermes},
      {"llama3.2-instruct", kLlama},
      {"llama2-chat", std::nullopt},
      {"mistral-7b-instruct-v0.1", std::nullopt},  // v0.1 has no tool calls
      {"deepseek-r1-distill-qwen", std::nullopt},
      {"gemma3-it", std::nullopt},
  };
  for (const auto& [id, format] : expected) {
    EXPECT_EQ(detect_tool_call_format(templates.at(id).at("chat_template").get<std::string>()),
              format)
        << id;
  }
}

}  // namespace
}  // namespace llm
