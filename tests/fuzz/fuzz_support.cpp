#include "tests/fuzz/fuzz_support.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "tokenizer/chat_template.h"
#include "tokenizer/chat_template_source.h"

namespace llm::fuzz {
namespace {

struct Model {
  Tokenizer tokenizer;
  ChatTemplateSource source;
  std::optional<ChatTemplate> chat_template;
  ModelContext ctx;

  explicit Model(const std::filesystem::path& dir)
      : tokenizer(Tokenizer::load(dir)), source(load_chat_template_source(dir)) {
    try {
      chat_template.emplace(ChatTemplate::compile(source.source));
      ctx.chat_template = &*chat_template;
    } catch (const Error& e) {
      ctx.chat_template_error = e.what();
    }
    ctx.tokenizer = &tokenizer;
    ctx.bos_token = source.bos_token;
    ctx.eos_token = source.eos_token;
    ctx.served_model_name = "stories260K";
    std::ifstream in(dir / "config.json");
    const auto config = nlohmann::json::parse(in);
    ctx.max_model_len = config.at("max_position_embeddings").get<int>();
    ctx.vocab_size = tokenizer.vocab_size();
  }
};

// Built on first use and kept for the process: the fuzzers run millions of inputs against it.
const Model& model() {
  static const Model m(model_dir());
  return m;
}

}  // namespace

std::filesystem::path model_dir() {
  if (const char* dir = std::getenv("LLM_FUZZ_MODEL_DIR"); dir && *dir) return dir;
  return std::filesystem::path(LLM_SOURCE_DIR) / "models" / "stories260K";
}

const Tokenizer& tokenizer() {
  return model().tokenizer;
}

const ModelContext& model_context() {
  return model().ctx;
}

Split split(const uint8_t* data, size_t size, std::string_view separator) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t at = all.find(separator);
  if (at == std::string_view::npos) return {all, {}};
  return {all.substr(0, at), all.substr(at + separator.size())};
}

}  // namespace llm::fuzz
