// How a served model's chat requests are rendered and their output read, beyond what the
// checkpoint says: the operator's flags (cli/chat_options.h), resolved.
#pragma once

#include <optional>
#include <string>

#include "server/reasoning_parser.h"
#include "server/tool_call_parser.h"

namespace llm {

struct ChatOptions {
  std::optional<std::string> chat_template;         // replaces the checkpoint's template
  std::optional<ToolCallFormat> tool_call_format;   // none: detected from the template
  std::optional<ReasoningFormat> reasoning_format;  // none: "<think>" text stays content
};

}  // namespace llm
