// Hugging Face chat templates: the Jinja2 subset real `chat_template`s use, rendered exactly
// as transformers' apply_chat_template does (trim_blocks, lstrip_blocks, loop controls,
// json.dumps-style `tojson`, `raise_exception`, `strftime_now`). Templates and inputs are
// untrusted: every render is bounded in time, memory, recursion and output size, and fails
// with an error rather than crashing.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "llm/error.h"
#include "tokenizer/jinja/budget.h"

namespace llm {

namespace jinja {
struct Program;
}

// A render failed. what() is the template's raise_exception(...) message verbatim, or a
// description of the runtime error with its line and column in the template.
class ChatTemplateError : public Error {
 public:
  ChatTemplateError(const std::string& message, bool raised)
      : Error(ErrorCode::kInvalidArgument, message), raised_(raised) {}
  // True when the template itself rejected the input through raise_exception().
  bool raised() const { return raised_; }

 private:
  bool raised_;
};

// A chat template compiled once, rendered per request (render is const and thread-safe).
class ChatTemplate {
 public:
  // What one render may spend (jinja/budget.h). The defaults: 1 MiB of output (and per
  // string built), 1M loop iterations, 1M-item lists, 500 nested evaluations (a render then
  // needs under 1 MiB of stack; about 4 MiB in an AddressSanitizer build), 20M evaluation
  // steps (about a second). Exceeding one is a ChatTemplateError.
  using Limits = jinja::Limits;

  // Throws llm::Error(kInvalidArgument, "chat template syntax error at line L, column C: ...").
  static ChatTemplate compile(std::string_view source);

  struct Inputs {
    nlohmann::ordered_json messages;  // key order matters for tojson
    nlohmann::ordered_json tools;     // null -> the variable is `none`
    bool add_generation_prompt = true;
    std::optional<std::string> bos_token, eos_token;  // nullopt -> variable undefined
    // strftime_now(format) in the template; default: the local clock, C locale.
    std::function<std::string(const std::string& fmt)> strftime_now;
    // More variables (e.g. documents, or a template's own options); the inputs above win over
    // entries with the same name, except bos_token / eos_token, which these may override.
    nlohmann::ordered_json extra_variables = nlohmann::ordered_json::object();
    Limits limits;
  };

  // Throws ChatTemplateError: raise_exception() in the template, any runtime error (an
  // undefined value used, a type error, a limit exceeded), or input JSON nested deeper than
  // 256 levels.
  std::string render(const Inputs& inputs) const;

 private:
  explicit ChatTemplate(std::shared_ptr<const jinja::Program> program);

  std::shared_ptr<const jinja::Program> program_;
};

}  // namespace llm
