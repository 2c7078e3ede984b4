#include "server/served_model.h"

#include "llm/error.h"

#include "tokenizer/tokenizer.h"

namespace llm {
ServedModel::ServedModel(const Engine& engine, const std::filesystem::path& model_dir,
                         std::string served_name, const std::optional<std::string>& chat_template)
    : source_(load_chat_template_source(model_dir)) {
  if (chat_template) {
    source_.source = *chat_template;
    source_.is_fallback = false;
  }
  try {
    template_.emplace(ChatTemplate::compile(source_.source));
    ctx_.chat_template = &*template_;
  } catch (const Error& e) {
    ctx_.chat_template_error = e.what();
  }
  ctx_.tokenizer = &engine.tokenizer();
  ctx_.bos_token = source_.bos_token;
  ctx_.eos_token = source_.eos_token;
  ctx_.served_model_name = std::move(served_name);
  ctx_.max_model_len = engine.model_config().max_position_embeddings;
  ctx_.vocab_size = engine.model_config().vocab_size;
}

std::string default_served_name(const std::filesystem::path& model_dir) {
  std::filesystem::path p = model_dir.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

}  // namespace llm
