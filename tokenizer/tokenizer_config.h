// The fields of DIR/tokenizer_config.json that tokenization depends on (transformers' reading).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace llm {

struct TokenizerConfig {
  std::filesystem::path path;  // for messages
  bool present = false;
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  // The token texts; a config may spell them as a string or as an AddedToken object.
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::string tokenizer_class;
};

// Reads MODEL_DIR/tokenizer_config.json when present. Null counts as absent, as in Hugging Face
// configs that spell unset fields that way. Throws kCorruptFile naming the file when it cannot be
// read, is not a JSON object, or a field has the wrong type.
TokenizerConfig read_tokenizer_config(const std::filesystem::path& model_dir);

}  // namespace llm
