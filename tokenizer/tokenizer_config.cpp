#include "tokenizer/tokenizer_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "llm/error.h"

namespace llm {
namespace {

void read_bool(const nlohmann::json& config, const char* key, const std::filesystem::path& path,
               std::optional<bool>* out) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return;
  if (!it->is_boolean()) {
    throw Error(
        ErrorCode::kCorruptFile,
        path.string() + ": \"" + key + "\" must be a boolean, got " + std::string(it->type_name()));
  }
  *out = it->get<bool>();
}

// "bos_token": "<s>" or {"content": "<s>", ...} (an AddedToken as transformers saves it).
void read_token(const nlohmann::json& config, const char* key, const std::filesystem::path& path,
                std::optional<std::string>* out) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return;
  if (it->is_string()) {
    *out = it->get<std::string>();
    return;
  }
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    *out = (*it)["content"].get<std::string>();
    return;
  }
  throw Error(ErrorCode::kCorruptFile,
              path.string() + ": \"" + key + "\" must be a string or an object with \"content\"");
}

}  // namespace

TokenizerConfig read_tokenizer_config(const std::filesystem::path& model_dir) {
  TokenizerConfig out;
  out.path = model_dir / "tokenizer_config.json";
  std::error_code ec;
  const auto status = std::filesystem::status(out.path, ec);
  if (!std::filesystem::exists(status)) return out;
  std::ifstream in(out.path, std::ios::binary);
  std::stringstream buffer;
  if (!std::filesystem::is_regular_file(status) || !in || !(buffer << in.rdbuf())) {
    // An empty file also lands here; it is not valid JSON either.
    throw Error(ErrorCode::kCorruptFile, out.path.string() + ": cannot be read or is empty");
  }
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorCode::kCorruptFile,
                out.path.string() + ": malformed JSON: " + std::string(e.what()));
  }
  if (!config.is_object()) {
    throw Error(ErrorCode::kCorruptFile, out.path.string() + ": expected a JSON object");
  }
  out.present = true;
  read_bool(config, "add_bos_token", out.path, &out.add_bos_token);
  read_bool(config, "add_eos_token", out.path, &out.add_eos_token);
  read_token(config, "bos_token", out.path, &out.bos_token);
  read_token(config, "eos_token", out.path, &out.eos_token);
  if (const auto it = config.find("tokenizer_class"); it != config.end() && it->is_string()) {
    out.tokenizer_class = it->get<std::string>();
  }
  return out;
}

}  // namespace llm
