#include "server/reasoning_parser.h"

#include <utility>

namespace llm {
namespace {

constexpr std::string_view kOpen = "<think>";

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

std::optional<ReasoningFormat> reasoning_format_from_name(std::string_view name) {
  if (name == "deepseek_r1") return ReasoningFormat::kDeepSeekR1;
  if (name == "qwen3") return ReasoningFormat::kQwen3;
  return std::nullopt;
}

std::string_view reasoning_format_name(ReasoningFormat f) {
  return f == ReasoningFormat::kDeepSeekR1 ? "deepseek_r1" : "qwen3";
}

ReasoningParser::ReasoningParser(ReasoningFormat f) : format_(f) {}

ReasoningParserOutput ReasoningParser::push(std::string_view text) {
  for (const char c : text) feed(c);
  return std::exchange(out_, ReasoningParserOutput());
}

ReasoningParserOutput ReasoningParser::finish() {
  if (state_ == State::kStart) {
    // Whitespace or a partial "<think>" and nothing else: text of the state it would have led to.
    std::string& to = format_ == ReasoningFormat::kDeepSeekR1 ? out_.reasoning : out_.content;
    to += std::exchange(held_, std::string());
  } else if (state_ == State::kReasoning) {
    out_.reasoning += close_tag_.take_held();
  }
  state_ = State::kContent;
  return std::exchange(out_, ReasoningParserOutput());
}

void ReasoningParser::feed(char c) {
  switch (state_) {
    case State::kStart:
      if (open_pos_ == 0 && is_ws(c) && held_.size() < kMaxLeadingWhitespace) {
        held_ += c;
      } else if (c == kOpen[open_pos_]) {
        held_ += c;
        if (++open_pos_ == kOpen.size()) {
          held_.clear();  // the tag and the whitespace before it are dropped
          state_ = State::kReasoning;
        }
      } else {
        no_open_tag(c);
      }
      return;
    case State::kReasoning: {
      std::string released;
      const bool found = close_tag_.feed(c, released);
      out_.reasoning += released;
      if (found) state_ = State::kContent;
      return;
    }
    case State::kContent:
      out_.content += c;
      return;
  }
}

void ReasoningParser::no_open_tag(char c) {
  // The held bytes are re-read: "<" may begin "</think>" (deepseek_r1 output that has no
  // reasoning). They are at most kMaxLeadingWhitespace + 7 bytes, read again once.
  std::string again = std::exchange(held_, std::string());
  again += c;
  state_ = format_ == ReasoningFormat::kDeepSeekR1 ? State::kReasoning : State::kContent;
  for (const char r : again) feed(r);
}

ReasoningParserOutput parse_reasoning(ReasoningFormat f, std::string_view text) {
  ReasoningParser parser(f);
  ReasoningParserOutput out = parser.push(text);
  ReasoningParserOutput rest = parser.finish();
  out.reasoning += rest.reasoning;
  out.content += rest.content;
  return out;
}

}  // namespace llm
