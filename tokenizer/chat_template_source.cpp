#include "tokenizer/chat_template_source.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "llm/error.h"
#include "tokenizer/chat_template.h"

namespace llm {

const char* const kFallbackChatTemplate =
    "{{ bos_token }}{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}";

namespace {

// A special token in tokenizer_config.json: a string or an AddedToken object {"content": ...}.
std::optional<std::string> token_string(const nlohmann::json& cfg, const char* name) {
  auto it = cfg.find(name);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

ChatTemplateSource load_chat_template_source(const std::filesystem::path& dir) {
  ChatTemplateSource out;
  const auto config_path = dir / "tokenizer_config.json";
  std::ifstream in(config_path);
  if (in) {
    nlohmann::json cfg;
    try {
      cfg = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorCode::kCorruptFile, config_path.string() + ": " + e.what());
    }
    out.bos_token = token_string(cfg, "bos_token");
    out.eos_token = token_string(cfg, "eos_token");
    if (auto it = cfg.find("chat_template"); it != cfg.end()) {
      if (it->is_string()) {
        out.source = it->get<std::string>();
      } else if (it->is_array()) {
        // find(), not value() or operator[]: an entry without "template" or with a "name" that
        // is not a string must be skipped, not throw a JSON type error or read past the map.
        for (const auto& entry : *it) {
          if (!entry.is_object()) continue;
          const auto name = entry.find("name");
          const auto tmpl = entry.find("template");
          if (name != entry.end() && *name == "default" && tmpl != entry.end() && tmpl->is_string()) {
            out.source = tmpl->get<std::string>();
          }
        }
      } else if (!it->is_null()) {
        throw Error(ErrorCode::kCorruptFile, config_path.string() + ": 'chat_template' must be a string or a list");
      }
    }
  }
  if (out.source.empty()) {
    std::ifstream jinja(dir / "chat_template.jinja");
    if (jinja) {
      std::stringstream ss;
      ss << jinja.rdbuf();
      out.source = ss.str();
    }
  }
  if (out.source.empty()) {
    out.source = kFallbackChatTemplate;
    out.is_fallback = true;
  }
  return out;
}

std::string load_chat_template_file(const std::filesystem::path& path) {
  std::error_code ec;
  // An ifstream opens a directory without complaint on Linux; reading it then fails silently.
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorCode::kNotFound, "chat template file " + path.string() + " is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kNotFound, "cannot read chat template file " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    throw Error(ErrorCode::kNotFound, "cannot read chat template file " + path.string());
  std::string source = ss.str();
  // An empty template renders every conversation as "": surely a wrong file, not a choice.
  if (source.empty())
    throw Error(ErrorCode::kInvalidArgument, "chat template file " + path.string() + " is empty");
  try {
    ChatTemplate::compile(source);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument,
                "chat template file " + path.string() + ": " + e.what());
  }
  return source;
}

}  // namespace llm
