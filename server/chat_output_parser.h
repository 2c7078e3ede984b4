// ChatOutputParser: one chat choice's generated text, split the way OpenAI clients read it:
// reasoning ("<think>...</think>", reasoning_parser.h) into reasoning_content, tool calls
// (tool_call_parser.h) into tool_calls, the rest into content. Streaming and whole responses
// use the same parser, so they agree for every split of the text into deltas.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/reasoning_parser.h"
#include "server/tool_call_parser.h"

namespace llm {

struct ChatDelta {
  std::string reasoning, content;
  std::vector<ToolCallDelta> tool_calls;
  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
};

class ChatOutputParser {
 public:
  // No format: that part of the text is content. Tool-call ids start with ID_PREFIX.
  ChatOutputParser(std::optional<ReasoningFormat> reasoning, std::optional<ToolCallFormat> tools,
                   std::string id_prefix);
  ChatDelta push(std::string_view text);
  ChatDelta finish();  // the end of the choice's output: what was held back
  bool has_tool_calls() const { return tools_ && tools_->has_calls(); }
  const std::vector<ToolCall>& tool_calls() const;

 private:
  ChatDelta route(ReasoningParserOutput r, bool finishing);

  std::optional<ReasoningParser> reasoning_;
  std::optional<ToolCallParser> tools_;
};

// "call_" and 16 random hex digits and "_": tool-call ids are this and the call's index.
std::string make_tool_call_id_prefix();

}  // namespace llm
