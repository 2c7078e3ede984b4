// ToolCallParser on generated text: well-formed calls around random JSON arguments (which must
// come back byte for byte), random soups of the formats' markup (streaming == whole text, and
// no call means the text is the content), and the bounds on held text, nesting and time.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "server/tool_call_parser.h"
#include "tests/unit/tool_call_parser_test_support.h"

namespace llm {
namespace {

using tool_call_test::random_split;
using tool_call_test::stream;

constexpr ToolCallFormat kFormats[] = {ToolCallFormat::kHermes, ToolCallFormat::kLlama3Json,
                                       ToolCallFormat::kMistral};

// Strings that stress the argument scanner: quotes, escapes, brackets, markup and UTF-8.
// clang-format off
const std::vector<std::string> kStrings = {
    "", "Paris", "a \"quoted\" }] word", "back\\slash", "{[", "</tool_call>", "]}\"",
    "h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x8E\x89", "line\nbreak\ttab", "[TOOL_CALLS]",
    "\x01\x1f"};
// clang-format on

nlohmann::ordered_json random_value(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 3 ? 4 : 6);
  std::uniform_int_distribution<size_t> pick(0, kStrings.size() - 1);
  std::uniform_int_distribution<int> count(0, 3);
  switch (kind(rng)) {
    case 0:
      return kStrings[pick(rng)];
    case 1:
      return std::uniform_int_distribution<int>(-1000, 1000)(rng);
    case 2:
      return 0.25 * std::uniform_int_distribution<int>(-100, 100)(rng);
    case 3:
      return rng() % 2 == 0;
    case 4:
      return nullptr;
    case 5: {
      nlohmann::ordered_json a = nlohmann::ordered_json::array();
      for (int i = count(rng); i > 0; --i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      nlohmann::ordered_json o = nlohmann::ordered_json::object();
      for (int i = count(rng); i > 0; --i) o[kStrings[pick(rng)]] = random_value(rng, depth + 1);
      return o;
    }
  }
}

struct Generated {
  std::string text, content;
  std::vector<tool_call_test::Expected> calls;
};

// Calls as the format writes them, arguments dumped compactly or indented, keys in either order.
Generated generate(ToolCallFormat format, std::mt19937& rng) {
  Generated g;
  const int n = std::uniform_int_distribution<int>(1, 3)(rng);
  for (int i = 0; i < n; ++i) {
    nlohmann::ordered_json args = nlohmann::ordered_json::object();
    for (int k = std::uniform_int_distribution<int>(0, 3)(rng); k > 0; --k) {
      args["k" + std::to_string(k)] = random_value(rng, 1);
    }
    const std::string dumped = rng() % 2 ? args.dump() : args.dump(2);
    const std::string name = "fn_" + std::to_string(rng() % 100);
    g.calls.push_back({name, dumped});
  }
  auto object = [&](const tool_call_test::Expected& c) {
    const std::string key = format == ToolCallFormat::kLlama3Json ? "parameters" : "arguments";
    const std::string name = "\"name\": \"" + c.name + "\"";
    const std::string args = "\"" + key + "\": " + c.arguments;
    return rng() % 2 ? "{" + name + ", " + args + "}" : "{" + args + ", " + name + "}";
  };
  if (format == ToolCallFormat::kHermes) {
    g.content = rng() % 2 ? "I will call a tool.\n\n" : "";
    g.text = g.content;
    for (const auto& c : g.calls) g.text += "<tool_call>\n" + object(c) + "\n</tool_call>\n";
  } else if (format == ToolCallFormat::kLlama3Json) {
    g.text = rng() % 2 ? "<|python_tag|>" : "";
    for (size_t i = 0; i < g.calls.size(); ++i) g.text += (i ? "; " : "") + object(g.calls[i]);
  } else {
    g.content = rng() % 2 ? "Calling [tools] now: " : "";
    g.text = g.content + (rng() % 2 || !g.content.empty() ? "[TOOL_CALLS][" : "[");
    for (size_t i = 0; i < g.calls.size(); ++i) g.text += (i ? ", " : "") + object(g.calls[i]);
    g.text += "]";
  }
  return g;
}

TEST(ToolCallParserRandom, GeneratedCallsComeBackVerbatimInEverySplit) {
  std::mt19937 rng(20240601);
  for (const ToolCallFormat format : kFormats) {
    for (int i = 0; i < 300; ++i) {
      const Generated g = generate(format, rng);
      SCOPED_TRACE(g.text);
      const ParsedToolCalls whole = parse_tool_calls(format, g.text, "call_t_");
      EXPECT_EQ(whole.content, g.content);
      ASSERT_EQ(whole.calls.size(), g.calls.size());
      for (size_t k = 0; k < g.calls.size(); ++k) {
        EXPECT_EQ(whole.calls[k].name, g.calls[k].name);
        EXPECT_EQ(whole.calls[k].arguments, g.calls[k].arguments);
        EXPECT_TRUE(nlohmann::json::accept(whole.calls[k].arguments));
      }
      for (int trial = 0; trial < 8; ++trial) {
        tool_call_test::expect_same(whole,
                                    stream(format, g.text, random_split(g.text, trial, rng)));
      }
      if (::testing::Test::HasFailure()) return;
    }
  }
}

// Pieces of every format's markup and of JSON, glued at random.
// clang-format off
const std::vector<std::string> kPieces = {
    "<tool_call>", "</tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "{", "}", "[", "]",
    "\"name\"", "\"arguments\"", "\"parameters\"", ":", ",", ";", " ", "\n", "\"f\"",
    "\"x\\\"y\"", "\\", "\"", "1", "null", "h\xC3\xA9", "<", "tool", "_call>", "abc",
    "\"name\": \"g\"", "{\"name\": \"h\", \"arguments\": {\"a\": [1, \"}\"]}}", "\"\\u00e9\"",
    "\"\\ud800\""};
// clang-format on

TEST(ToolCallParserRandom, MarkupSoupStreamsAsTheWholeText) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> piece(0, kPieces.size() - 1);
  std::uniform_int_distribution<int> length(1, 40);
  int with_calls = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    for (int n = length(rng); n > 0; --n) text += kPieces[piece(rng)];
    for (const ToolCallFormat format : kFormats) {
      SCOPED_TRACE(std::string(tool_call_format_name(format)) + ": " + text);
      const ParsedToolCalls whole = parse_tool_calls(format, text, "call_t_");
      if (whole.calls.empty()) {
        EXPECT_EQ(whole.content, text);
      }
      with_calls += !whole.calls.empty();
      for (int trial = 0; trial < 4; ++trial) {
        tool_call_test::expect_same(whole, stream(format, text, random_split(text, trial, rng)));
      }
      if (::testing::Test::HasFailure()) return;
    }
  }
  EXPECT_GT(with_calls, 100) << "the soup should make some calls";
}

TEST(ToolCallParserBounds, AnUnnamedCandidateIsContentPastTheHeldLimit) {
  const std::string text =
      R"({"parameters": {"k": ")" + std::string(100, 'x') + R"("}, "name": "f"})";
  std::mt19937 rng(3);
  for (int trial = 0; trial < 40; ++trial) {
    const auto s = stream(ToolCallFormat::kLlama3Json, text, random_split(text, trial, rng), 64);
    EXPECT_EQ(s.content, text);
    EXPECT_TRUE(s.calls.empty());
  }
  // Within the limit the same call is found.
  const auto s = stream(ToolCallFormat::kLlama3Json, text, {1}, 256);
  ASSERT_EQ(s.calls.size(), 1u);
  EXPECT_EQ(s.calls[0].name, "f");
  // The default limit: arguments of 300 KiB before the name are content.
  const std::string big =
      R"({"parameters": ")" + std::string(300 << 10, 'y') + R"(", "name": "f"})";
  const ParsedToolCalls whole = parse_tool_calls(ToolCallFormat::kLlama3Json, big, "c");
  EXPECT_TRUE(whole.calls.empty());
  EXPECT_EQ(whole.content, big);
}

TEST(ToolCallParserBounds, NestingDeeperThanTheLimitEndsTheCall) {
  const size_t max = ToolCallObjectScanner::kMaxDepth;
  const std::string text = R"(<tool_call>{"name": "f", "arguments": )" +
                           std::string(max + 88, '[') + std::string(max + 88, ']') +
                           "}</tool_call>";
  const ParsedToolCalls whole = parse_tool_calls(ToolCallFormat::kHermes, text, "call_t_");
  ASSERT_EQ(whole.calls.size(), 1u);
  EXPECT_EQ(whole.calls[0].arguments, std::string(max, '['));
  EXPECT_EQ(whole.content, std::string(88, '[') + std::string(max + 88, ']') + "}</tool_call>");
  std::mt19937 rng(5);
  for (int trial = 0; trial < 8; ++trial) {
    tool_call_test::expect_same(
        whole, stream(ToolCallFormat::kHermes, text, random_split(text, trial, rng)));
  }
}

TEST(ToolCallParserBounds, LargeAdversarialInputsTakeLinearTime) {
  const std::vector<std::string> texts = {
      [] {
        std::string s;
        for (int i = 0; i < 100000; ++i) s += "<tool_call>";
        return s;
      }(),
      std::string(1 << 20, '['),
      R"({"parameters": )" + std::string(1 << 20, '{'),
      R"(<tool_call>{"name": "f", "arguments": ")" + std::string(1 << 20, 'a'),
      "<tool_call>{\"name\": \"f\"}</tool_call>" + std::string(1 << 20, ' ') + "x",
      std::string(1 << 20, '\n') + "<think>",
  };
  for (const std::string& text : texts) {
    for (const ToolCallFormat format : kFormats) {
      ToolCallParser parser(format, "c");
      size_t out = 0;
      for (const char c : text) out += parser.push(std::string_view(&c, 1)).content.size();
      out += parser.finish().content.size();
      EXPECT_LE(out, text.size());
      EXPECT_EQ(parse_tool_calls(format, text, "c").content.size(), out);
    }
  }
}

}  // namespace
}  // namespace llm
