// The request fields that constrain what a completion may say, read into the engine's
// StructuredOutput: OpenAI's response_format ({"type": "text" | "json_object" | "json_schema"}),
// and vLLM's extras, guided_json / guided_regex / guided_choice / guided_grammar and their
// newer spelling structured_outputs {"json" | "regex" | "choice" | "grammar"}. Both endpoints
// accept them. The schema itself is checked when the engine compiles it (engine/grammar/).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "llm/sampling_params.h"

namespace llm {

// None for a body without constraints (or response_format text). Throws ApiError 400 naming
// the field when one is malformed, or when more than one constraint is given.
std::optional<StructuredOutput> read_structured_output(const nlohmann::ordered_json& body);

}  // namespace llm
