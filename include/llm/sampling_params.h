// SamplingParams: how one request's tokens are chosen and when its generation stops.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace llm {

// Structured output: what every completion of the request must match. The engine compiles it
// when the request is submitted (engine/grammar/), masks each step's logits to the tokens that
// keep the output matching, and lets EOS through only where the output is complete.
struct StructuredOutput {
  enum class Kind {
    kJsonObject,     // any JSON object (response_format json_object); spec unused
    kJsonSchema,     // spec: a JSON Schema, within the subset engine/grammar/json_schema_subset.h
                     // names
    kRegex,          // spec: a regular expression the whole output matches
    kChoice,         // spec: a JSON array of strings; the output is one of them
    kGrammar,        // spec: an EBNF / GBNF grammar whose root rule is "root"
    kStructuralTag,  // spec: xgrammar's structural-tag JSON (free text, then constrained parts)
  };
  // A reasoning model's think block before the constrained part: free text up to "</think>",
  // which the grammar lets through ahead of the structure. kOpened: the chat template opened
  // the block in the prompt (DeepSeek-R1); kOptional: the output may open one with "<think>"
  // (Qwen3, whose template closes an empty one when thinking is off).
  enum class Reasoning { kNone, kOpened, kOptional };
  Kind kind = Kind::kJsonObject;
  std::string spec;
  std::string param = "response_format";  // the request field it came from, for errors
  Reasoning reasoning = Reasoning::kNone;
};

struct SamplingParams {
  double temperature = 1.0;                           // in [0, 2]; 0 = greedy (argmax, lowest id on ties)
  int top_k = 0;                                      // <= 0: off
  double top_p = 1.0;                                 // in (0, 1]
  double min_p = 0.0;                                 // in [0, 1]
  double repetition_penalty = 1.0;                    // in (0, 10]; over prompt and output tokens
  double presence_penalty = 0.0;                      // in [-2, 2]; over output tokens
  double frequency_penalty = 0.0;                     // in [-2, 2]; over output tokens
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> bias in [-100, 100]
  // Monitoring (llm-serve's monitor_logprobs): the sampled tokens' log-probabilities are summed
  // into the finishing event's Usage::sum_logprob. Greedy rows then read back whole logits.
  bool track_logprob = false;
  std::optional<uint64_t> seed;                       // a per-request generator; random when absent
  int max_tokens = 16;                                // >= 1
  int min_tokens = 0;             // EOS and stop tokens are masked until this many
  std::vector<std::string> stop;  // stop strings: matched on text, never emitted
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  int logprobs = -1;  // -1: none; 0..20: also the top N alternatives
  int n = 1;          // completions per prompt, sharing its KV blocks
  std::optional<StructuredOutput> structured_output;  // none: unconstrained

  static constexpr int kMaxLogprobs = 20;

  // Throws llm::Error(kInvalidArgument) naming the first bad parameter (Error::param) and its
  // allowed range. max_n > 0 bounds n. The one place these rules live (engine/request_validation.cpp).
  void validate(int vocab_size, int max_n = 0) const;
};

}  // namespace llm
