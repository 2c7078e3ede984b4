// ReasoningParser: a table of outputs per format with the reasoning and content they must give,
// each also streamed in many random splits (single bytes among them) that must give exactly
// the whole-text result; random tag soups for the same property.
#include "server/reasoning_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace llm {
namespace {

constexpr auto kR1 = ReasoningFormat::kDeepSeekR1;
constexpr auto kQwen3 = ReasoningFormat::kQwen3;

struct Case {
  std::string title;
  ReasoningFormat format;
  std::string text, reasoning, content;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"r1: the prompt opened <think>", kR1, "I think.</think>Answer", "I think.", "Answer"},
      {"r1: a leading <think> is dropped, text around the tags kept", kR1,
       "<think>\nI think.\n</think>\n\nAnswer", "\nI think.\n", "\n\nAnswer"},
      {"r1: whitespace before a leading <think> goes with it", kR1, " \n<think>x</think>y", "x",
       "y"},
      {"r1: leading whitespace without <think> is reasoning", kR1, "\n\nx</think>y", "\n\nx", "y"},
      {"r1: no </think>: all reasoning", kR1, "still thinking", "still thinking", ""},
      {"r1: empty reasoning", kR1, "</think>Answer", "", "Answer"},
      {"r1: whitespace then </think>", kR1, "\n</think>\n\nAnswer", "\n", "\n\nAnswer"},
      {"r1: only the first </think> counts", kR1, "a</think>b</think>c", "a", "b</think>c"},
      {"r1: a <think> later in the text is reasoning", kR1, "x<think>y</think>z", "x<think>y", "z"},
      {"r1: a tag that only starts like <think>", kR1, "<thinking>abc</think>d", "<thinking>abc",
       "d"},
      {"r1: unicode", kR1, "\xE6\x80\x9D\xE8\x80\x83</think>\xE7\xAD\x94",
       "\xE6\x80\x9D\xE8\x80\x83", "\xE7\xAD\x94"},
      {"r1: a partial </think> at the end is reasoning", kR1, "abc</thi", "abc</thi", ""},
      {"r1: a partial <think> at the end is reasoning", kR1, " <thi", " <thi", ""},
      {"r1: empty output", kR1, "", "", ""},
      {"qwen3: think block then content", kQwen3, "<think>\nreason\n</think>\n\nAnswer",
       "\nreason\n", "\n\nAnswer"},
      {"qwen3: no think block: all content", kQwen3, "Answer only", "", "Answer only"},
      {"qwen3: whitespace before <think> is dropped", kQwen3, "\n<think>r</think>c", "r", "c"},
      {"qwen3: an unclosed think block is all reasoning", kQwen3, "<think>unterminated",
       "unterminated", ""},
      {"qwen3: </think> without <think> is content", kQwen3, "text </think> more", "",
       "text </think> more"},
      {"qwen3: an empty think block", kQwen3, "<think></think>", "", ""},
      {"qwen3: a partial <think> at the end is content", kQwen3, "<thin", "", "<thin"},
      {"qwen3: only whitespace is content", kQwen3, " \n", "", " \n"},
      {"qwen3: later tags are content", kQwen3, "<think>a</think>b<think>c</think>", "a",
       "b<think>c</think>"},
      {"qwen3: <think> after text is content", kQwen3, "x<think>y</think>", "",
       "x<think>y</think>"},
      {"qwen3: </think> split like a tag", kQwen3, "<think>a</th</think>b", "a</th", "b"},
  };
  return c;
}

ReasoningParserOutput stream(ReasoningFormat f, std::string_view text,
                             const std::vector<size_t>& sizes) {
  ReasoningParser p(f);
  ReasoningParserOutput all;
  auto take = [&](const ReasoningParserOutput& o) {
    all.reasoning += o.reasoning;
    all.content += o.content;
  };
  size_t pos = 0;
  for (const size_t n : sizes) {
    if (pos >= text.size()) break;
    const size_t len = std::min(n, text.size() - pos);
    take(p.push(text.substr(pos, len)));
    pos += len;
  }
  take(p.finish());
  return all;
}

std::vector<size_t> random_split(std::string_view text, int trial, std::mt19937& rng) {
  const size_t limits[] = {1, 3, 16, std::max<size_t>(text.size() / 2, 1)};
  std::uniform_int_distribution<size_t> size(1, limits[trial % 4]);
  std::vector<size_t> sizes;
  for (size_t covered = 0; covered < text.size();) {
    sizes.push_back(size(rng));
    covered += sizes.back();
  }
  return sizes;
}

class ReasoningTable : public ::testing::TestWithParam<size_t> {};

TEST_P(ReasoningTable, WholeTextAndEverySplitGiveTheExpectedText) {
  const Case& c = cases()[GetParam()];
  SCOPED_TRACE(c.title);
  const ReasoningParserOutput whole = parse_reasoning(c.format, c.text);
  EXPECT_EQ(whole.reasoning, c.reasoning);
  EXPECT_EQ(whole.content, c.content);
  std::mt19937 rng(static_cast<uint32_t>(GetParam()) + 11);
  for (int trial = 0; trial < 200; ++trial) {
    const ReasoningParserOutput s = stream(c.format, c.text, random_split(c.text, trial, rng));
    EXPECT_EQ(s.reasoning, whole.reasoning);
    EXPECT_EQ(s.content, whole.content);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ReasoningTable, ::testing::Range<size_t>(0, cases().size()));

TEST(ReasoningParser, HoldsBackOnlyAPossibleTag) {
  ReasoningParser r1(kR1);
  ReasoningParserOutput out = r1.push("Let me think</thi");
  EXPECT_EQ(out.reasoning, "Let me think");
  out = r1.push("nk>\n\nThe");
  EXPECT_EQ(out.reasoning, "");
  EXPECT_EQ(out.content, "\n\nThe");
  ReasoningParser qwen(kQwen3);
  EXPECT_EQ(qwen.push("\n<thi").content, "");
  EXPECT_EQ(qwen.push("s").content, "\n<this");
  EXPECT_EQ(qwen.finish().content, "");
  EXPECT_EQ(qwen.push("after").content, "after");  // after finish: content
}

TEST(ReasoningParser, FormatNames) {
  for (const auto f : {kR1, kQwen3}) {
    EXPECT_EQ(reasoning_format_from_name(reasoning_format_name(f)), f);
  }
  EXPECT_FALSE(reasoning_format_from_name("granite").has_value());
}

TEST(ReasoningParser, TagSoupStreamsAsTheWholeText) {
  const std::vector<std::string> pieces = {
      "<think>", "</think>", "<", "</", "think", ">", " ", "\n", "a", "\xC3\xA9", "</thi", "<thin"};
  std::mt19937 rng(99);
  std::uniform_int_distribution<size_t> piece(0, pieces.size() - 1);
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    for (int n = std::uniform_int_distribution<int>(0, 20)(rng); n > 0; --n) {
      text += pieces[piece(rng)];
    }
    for (const auto f : {kR1, kQwen3}) {
      SCOPED_TRACE(text);
      const ReasoningParserOutput whole = parse_reasoning(f, text);
      // Nothing but the first tags (and whitespace before a leading <think>) is dropped.
      EXPECT_LE(whole.reasoning.size() + whole.content.size(), text.size());
      EXPECT_GE(whole.reasoning.size() + whole.content.size() + 15 +
                    ReasoningParser::kMaxLeadingWhitespace,
                text.size());
      for (int trial = 0; trial < 4; ++trial) {
        const ReasoningParserOutput s = stream(f, text, random_split(text, trial, rng));
        EXPECT_EQ(s.reasoning, whole.reasoning);
        EXPECT_EQ(s.content, whole.content);
      }
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(ReasoningParser, LongLeadingWhitespaceIsNotHeldForever) {
  const std::string text =
      std::string(ReasoningParser::kMaxLeadingWhitespace + 10, ' ') + "<think>x";
  ReasoningParser p(kQwen3);
  const ReasoningParserOutput out = p.push(text);
  EXPECT_EQ(out.content, text);
  EXPECT_EQ(parse_reasoning(kR1, text).reasoning, text);
}

}  // namespace
}  // namespace llm
