// The tool-calling fields of a chat request (tools, tool_choice, parallel_tool_calls), and the
// grammar that forces the call when tool_choice is "required" or names a function: the calls
// are written in the model's own format (hermes, llama3_json, mistral: tool_call_parser.h), with
// each function's arguments held to its parameters schema.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "server/tool_call_parser.h"

namespace llm {

enum class ToolChoice { kNone, kAuto, kRequired, kNamed };

struct ToolRequest {
  nlohmann::ordered_json tools;  // [{"type": "function", "function": {"name", "parameters"?, ...}}]
  ToolChoice choice = ToolChoice::kAuto;
  std::string named;     // kNamed: the function
  bool parallel = true;  // parallel_tool_calls: more than one call allowed
};

// None when the body has no tools. Throws ApiError 400 naming the field: a malformed tool, a
// tool_choice that is not none / auto / required / a tool of the list, tool_choice without tools.
std::optional<ToolRequest> read_tools(const nlohmann::ordered_json& body);

// xgrammar's structural tag (StructuredOutput::Kind::kStructuralTag) for a required or named
// tool_choice: nothing but calls in FORMAT (one, or several when parallel), each naming a tool
// of the request and carrying arguments that match its parameters (any object when it has none).
std::string forced_tool_call_tag(const ToolRequest& request, ToolCallFormat format);

}  // namespace llm
