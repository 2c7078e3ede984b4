// What an operator declares about the models one llm-serve holds (cli/model_config.h reads it
// from a config file, the admin API from a request): each model's versions, how its traffic is
// split between them, and what a version must pass before it receives any.
#pragma once

#include <string>
#include <vector>

#include "llm/engine.h"
#include "server/chat_options.h"

namespace llm {

// A greedy completion a version must reproduce before it is routable (catches a wrong
// checkpoint, dtype or tokenizer before users do).
struct GoldenCase {
  std::string prompt;  // raw completion prompt (the model's BOS added as usual)
  int max_tokens = 16;
  std::string expected;  // the greedy output text
};

// One loadable version of a model: its own engine, KV pool and memory budget.
struct VersionSpec {
  std::string version;  // "v2"; clients may name it as MODEL:VERSION
  std::string model;    // model directory or GGUF file
  EngineConfig engine;  // llm-serve's engine flags, as given for this version
  ChatOptions chat;     // its chat flags
  double weight = 0;    // share of the model's traffic, relative to its other versions' weights
  bool shadow = false;  // receives copies of the model's requests; its answers are only compared
};

// How a request is pinned to one version across calls ("sticky" canaries).
enum class StickyBy { kNone, kUser, kHeader };

struct ModelSpec {
  std::string name;                  // the id clients send as "model"
  std::vector<std::string> aliases;  // other ids for the same model
  StickyBy sticky = StickyBy::kNone;
  std::string sticky_header;                // kHeader: the header whose value pins the version
  std::vector<std::string> warmup_prompts;  // generated (1 token) before a version is routable
  std::vector<GoldenCase> golden;           // and these must match
  // Each answer's mean token logprob goes to /metrics (llm_model_mean_token_logprob): a drift
  // signal, paid for by reading whole logits back for greedy requests too.
  bool monitor_logprobs = false;
  std::vector<VersionSpec> versions;
};

}  // namespace llm
