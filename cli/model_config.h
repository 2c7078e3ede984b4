// llm-serve --config FILE: the models one server holds, as JSON.
//
//   {"models": [
//     {"name": "chat", "aliases": ["gpt-4o-mini"], "sticky": "user",
//      "warmup": ["Hello"], "monitor_logprobs": true,
//      "golden": [{"prompt": "Once upon", "max_tokens": 8, "expected": " a time"}],
//      "versions": [
//        {"version": "v1", "model": "models/a", "weight": 95, "flags": {"num-blocks": 512}},
//        {"version": "v2", "model": "models/b", "weight": 5},
//        {"version": "v3", "model": "models/c", "shadow": true}]}]}
//
// "flags" are llm-serve's engine and chat flags without their dashes' leading "--" (a switch
// is true); what a version does not set comes from the command line. Relative paths ("model",
// "chat-template") are relative to the file. "sticky" is "user" (the request's user field) or
// "header:NAME". Unknown keys are refused, so a typo is an error rather than a default.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/chat_options.h"
#include "cli/engine_options.h"
#include "server/model_spec.h"

namespace llm {

// The command line's engine and chat flags: what every version starts from.
struct VersionDefaults {
  EngineFlags engine;
  ChatFlags chat;
  std::filesystem::path base_dir;  // relative paths are resolved against it
};

// Throw llm::Error (kInvalidArgument) naming the file, the model and the key at fault.
std::vector<ModelSpec> read_model_config(const std::filesystem::path& file,
                                         const VersionDefaults& defaults);
std::vector<ModelSpec> parse_model_config(const nlohmann::ordered_json& config,
                                          const VersionDefaults& defaults,
                                          const std::string& where);
// One version object (also the admin API's load request). WHERE prefixes every message.
VersionSpec parse_version_spec(const nlohmann::ordered_json& version,
                               const VersionDefaults& defaults, const std::string& where);

}  // namespace llm
