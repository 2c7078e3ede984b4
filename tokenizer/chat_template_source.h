// Where a model's chat template comes from: tokenizer_config.json's "chat_template" (a string,
// or a list of {name, template} from which "default" is taken), else a chat_template.jinja file
// beside it, else a documented fallback. Also the bos/eos token strings the template sees.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace llm {

struct ChatTemplateSource {
  std::string source;                               // Jinja text
  bool is_fallback = false;                         // the model has no template of its own
  std::optional<std::string> bos_token, eos_token;  // undefined in the template when absent
};

// The fallback, for base models without a template: each message as "<role>: <content>" on its
// own line after BOS, then "assistant:" when a generation prompt is wanted.
extern const char* const kFallbackChatTemplate;

// Throws llm::Error(kCorruptFile) naming tokenizer_config.json when it is malformed.
ChatTemplateSource load_chat_template_source(const std::filesystem::path& model_dir);

// The Jinja text of a --chat-template FILE (vLLM's flag), compiled once to prove it usable.
// Throws llm::Error naming the file: kNotFound when it cannot be read, kInvalidArgument when it
// is empty or does not compile (with the syntax error's line and column).
std::string load_chat_template_file(const std::filesystem::path& path);

}  // namespace llm
