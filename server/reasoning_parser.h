// Reasoning text ("thinking") in a model's generated text, for OpenAI chat responses'
// reasoning_content, with vLLM's semantics. ReasoningParser reads the text as it is generated
// (deltas split anywhere, down to single bytes); parse_reasoning is the same parser over the
// whole text, so both give the same text for every split.
//
//   deepseek_r1  The chat template opened "<think>\n" in the prompt, so the output starts in
//                reasoning. A "<think>" at the start of the output (after optional whitespace,
//                which goes with it) is dropped. Text up to the first "</think>" is reasoning,
//                the rest content; with no "</think>" everything is reasoning.
//   qwen3        If the output starts (after optional whitespace, which is dropped) with
//                "<think>", text up to "</think>" is reasoning and the rest content; a
//                "<think>" never closed makes the rest reasoning. Otherwise all is content
//                (the template wrote an empty think block into the prompt).
// Both keep the text around the tags verbatim, as vLLM does: the newlines after "</think>"
// begin the content. Later "<think>"/"</think>" tags are plain text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "server/tag_scanner.h"

namespace llm {

enum class ReasoningFormat { kDeepSeekR1, kQwen3 };

// "deepseek_r1" | "qwen3" -> format; else nullopt.
std::optional<ReasoningFormat> reasoning_format_from_name(std::string_view name);
std::string_view reasoning_format_name(ReasoningFormat f);

struct ReasoningParserOutput {
  std::string reasoning, content;
};

class ReasoningParser {
 public:
  // Leading whitespace held while waiting for "<think>": past this many bytes it is text.
  static constexpr size_t kMaxLeadingWhitespace = 4096;

  explicit ReasoningParser(ReasoningFormat f);
  ReasoningParserOutput push(std::string_view text);
  // End of generation: releases held text. Text pushed after it is content.
  ReasoningParserOutput finish();

 private:
  enum class State { kStart, kReasoning, kContent };

  void feed(char c);
  // The start was not "<think>": what was held is read again in the state that follows.
  void no_open_tag(char c);

  ReasoningFormat format_;
  State state_ = State::kStart;
  std::string held_;  // kStart: leading whitespace and a partial "<think>"
  size_t open_pos_ = 0;
  TagScanner close_tag_{"</think>"};
  ReasoningParserOutput out_;
};

ReasoningParserOutput parse_reasoning(ReasoningFormat f, std::string_view text);

}  // namespace llm
