// One line of an OpenAI Batch API input file, parsed: {"custom_id", "method", "url", "body"}.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "server/openai_request.h"

namespace llm {

struct BatchLine {
  int64_t line_number = 0;  // 1-based, in the input file
  std::string custom_id;    // empty when the line had none (it is then an error line)
  Endpoint endpoint = Endpoint::kCompletions;
  nlohmann::ordered_json body;
  std::string error;  // non-empty: why this line cannot run ("line 7: ...")
};

// Parses `text` (one input line). Never throws: problems land in BatchLine::error.
BatchLine parse_batch_line(const std::string& text, int64_t line_number);

// The output line for a finished request ({"id", "custom_id", "response": {...}, "error": null})
// or for a failed one ({"id", "custom_id", "response": null, "error": {"code", "message"}}).
std::string batch_success_line(const std::string& custom_id, const std::string& request_id,
                               const nlohmann::ordered_json& body);
std::string batch_error_line(const std::string& custom_id, const std::string& code, const std::string& message);

}  // namespace llm
