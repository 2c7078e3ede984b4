// Shared by the Jinja2 feature, error and limit tests: rendering helpers with a fixed clock.
#pragma once

#include <gtest/gtest.h>

#include <ctime>
#include <iomanip>
#include <locale>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>

#include "llm/error.h"
#include "tokenizer/chat_template.h"

namespace llm::jinja_test {

using Json = nlohmann::ordered_json;

// strftime_now fixed to 2026-01-15 00:00:00 (a Thursday), as the goldens were made.
inline std::string fixed_strftime(const std::string& format) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_wday = 4;
  tm.tm_yday = 14;
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::put_time(&tm, format.c_str());
  return out.str();
}

// Variables come as JSON text; "messages" goes to Inputs::messages, the rest are extras.
inline ChatTemplate::Inputs make_inputs(std::string_view variables_json) {
  ChatTemplate::Inputs inputs;
  Json vars = Json::parse(variables_json);
  if (vars.contains("messages")) inputs.messages = vars["messages"];
  inputs.extra_variables = std::move(vars);
  inputs.strftime_now = fixed_strftime;
  return inputs;
}

inline std::string render(std::string_view source, std::string_view variables_json = "{}",
                          const ChatTemplate::Limits& limits = {}) {
  ChatTemplate::Inputs inputs = make_inputs(variables_json);
  inputs.limits = limits;
  return ChatTemplate::compile(source).render(inputs);
}

// The message of the ChatTemplateError rendering must throw ("" and a test failure if none).
inline std::string render_error(std::string_view source, std::string_view variables_json = "{}",
                                const ChatTemplate::Limits& limits = {}) {
  const ChatTemplate tmpl = ChatTemplate::compile(source);
  ChatTemplate::Inputs inputs = make_inputs(variables_json);
  inputs.limits = limits;
  try {
    const std::string out = tmpl.render(inputs);
    ADD_FAILURE() << "expected a render error for: " << source << "\ngot " << out.size()
                  << " bytes: " << out.substr(0, 200);
  } catch (const ChatTemplateError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

inline std::string compile_error(std::string_view source) {
  try {
    ChatTemplate::compile(source);
    ADD_FAILURE() << "expected a syntax error for: " << source;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

// One row of a feature table: the template, its variables as JSON, and what Jinja2 printed.
struct Case {
  const char* name;
  const char* source;
  const char* variables;
  const char* expected;
};

// gtest names the instantiated cases after Case::name.
inline std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

}  // namespace llm::jinja_test
