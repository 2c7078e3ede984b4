// What the OpenAI codec's body readers (openai_request, openai_tools,
// openai_structured_output) share: finding a field and refusing a value.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "server/api_error.h"

namespace llm::request_fields {

// Absent and null both mean "not given": null, else the field.
inline const nlohmann::ordered_json* field(const nlohmann::ordered_json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

// A 400 naming the request parameter at fault.
[[noreturn]] inline void bad(const std::string& param, const std::string& message) {
  throw ApiError(400, message, param);
}

}  // namespace llm::request_fields
