#include "server/chat_output_parser.h"

#include <cstdio>
#include <random>

namespace llm {

ChatOutputParser::ChatOutputParser(std::optional<ReasoningFormat> reasoning,
                                   std::optional<ToolCallFormat> tools, std::string id_prefix) {
  if (reasoning) reasoning_.emplace(*reasoning);
  if (tools) tools_.emplace(*tools, std::move(id_prefix));
}

ChatDelta ChatOutputParser::route(ReasoningParserOutput r, bool finishing) {
  ChatDelta d;
  d.reasoning = std::move(r.reasoning);
  // Tool calls are read from the content only: a call inside the reasoning is thinking.
  if (!tools_) {
    d.content = std::move(r.content);
    return d;
  }
  ToolCallParserOutput t = tools_->push(r.content);
  if (finishing) {
    ToolCallParserOutput rest = tools_->finish();
    t.content += rest.content;
    for (ToolCallDelta& x : rest.tool_calls) {
      // One entry per call and delta: fragments of a call already in this delta join it.
      if (!t.tool_calls.empty() && t.tool_calls.back().index == x.index) {
        t.tool_calls.back().arguments += x.arguments;
      } else {
        t.tool_calls.push_back(std::move(x));
      }
    }
  }
  d.content = std::move(t.content);
  d.tool_calls = std::move(t.tool_calls);
  return d;
}

ChatDelta ChatOutputParser::push(std::string_view text) {
  if (reasoning_) return route(reasoning_->push(text), false);
  return route({{}, std::string(text)}, false);
}

ChatDelta ChatOutputParser::finish() {
  if (reasoning_) return route(reasoning_->finish(), true);
  return route({}, true);
}

const std::vector<ToolCall>& ChatOutputParser::tool_calls() const {
  static const std::vector<ToolCall> none;
  return tools_ ? tools_->calls() : none;
}

std::string make_tool_call_id_prefix() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string("call_") + hex + "_";
}

}  // namespace llm
