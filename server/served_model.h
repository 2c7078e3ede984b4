// ServedModel: what the OpenAI codec needs about the model an Engine serves: its tokenizer, its
// compiled chat template (or the fallback), the name clients use and the context length.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "llm/engine.h"
#include "server/chat_options.h"
#include "server/openai_request.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/chat_template_source.h"

namespace llm {

class ServedModel {
 public:
  // Throws llm::Error when tokenizer_config.json is malformed. A template that does not compile
  // leaves chat requests answering 400 with the reason; completions still work.
  // CHAT.chat_template (--chat-template's text) replaces the checkpoint's template (bos_token
  // and eos_token still come from the checkpoint); the tool-call format is CHAT's, else the
  // one the template writes (detect_tool_call_format), else none (tools then answer 400).
  ServedModel(const Engine& engine, const std::filesystem::path& model_dir, std::string served_name,
              const ChatOptions& chat = {});
  ServedModel(const ServedModel&) = delete;
  ServedModel& operator=(const ServedModel&) = delete;

  const ModelContext& context() const { return ctx_; }

 private:
  ChatTemplateSource source_;
  std::optional<ChatTemplate> template_;
  ModelContext ctx_;
};

// The default served name: the model directory's name.
std::string default_served_name(const std::filesystem::path& model_dir);

}  // namespace llm
