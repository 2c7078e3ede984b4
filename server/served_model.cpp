#include "server/served_model.h"

#include "engine/model/gguf_file.h"
#include "llm/error.h"
#include "tokenizer/tokenizer.h"

namespace llm {
namespace {

// The chat template a GGUF file embeds (tokenizer.chat_template), with its BOS/EOS strings;
// a file without one gets the fallback, as a directory without one does.
ChatTemplateSource gguf_chat_template_source(const std::filesystem::path& path,
                                             const Tokenizer& tokenizer) {
  ChatTemplateSource s;
  const GgufFile file = GgufFile::open(path);
  if (std::optional<std::string> text = file.get_string("tokenizer.chat_template")) {
    s.source = std::move(*text);
  } else {
    s.source = kFallbackChatTemplate;
    s.is_fallback = true;
  }
  if (tokenizer.bos_id() >= 0) s.bos_token = tokenizer.id_to_piece(tokenizer.bos_id());
  if (tokenizer.eos_id() >= 0) s.eos_token = tokenizer.id_to_piece(tokenizer.eos_id());
  return s;
}

}  // namespace

ServedModel::ServedModel(const Engine& engine, const std::filesystem::path& model_dir,
                         std::string served_name, const ChatOptions& chat)
    : source_(is_gguf_file(model_dir) ? gguf_chat_template_source(model_dir, engine.tokenizer())
                                      : load_chat_template_source(model_dir)) {
  if (chat.chat_template) {
    source_.source = *chat.chat_template;
    source_.is_fallback = false;
  }
  ctx_.tool_call_format =
      chat.tool_call_format ? chat.tool_call_format : detect_tool_call_format(source_.source);
  ctx_.reasoning_format = chat.reasoning_format;
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
  // "model.gguf" is served as "model", as llama-server names it.
  if (p.extension() == ".gguf") return p.stem().string();
  return p.filename().string();
}

}  // namespace llm
