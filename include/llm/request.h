// Request: what a front end submits. CompletionEvent: what comes back, token by token.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "llm/sampling_params.h"

namespace llm {

struct Request {
  std::string id;                         // unique; the engine makes one when empty
  std::vector<int32_t> prompt_token_ids;  // already tokenized (BOS included when wanted)
  SamplingParams params;
};

// What a request is checked against: the model's vocabulary and context, and the most
// completions one request may ask for.
struct RequestBounds {
  int vocab_size = 0;
  int max_model_len = 0;  // prompt + max_tokens
  int max_n = 0;          // > 0: n is at most this
};

// Throws llm::Error(kInvalidArgument) naming the parameter at fault (Error::param: "prompt",
// "max_tokens", or one of SamplingParams::validate's) when the prompt is empty, holds ids
// outside the vocabulary or does not fit the context with max_tokens, or a parameter is out of
// range. Every front end's requests meet this, and only this, in LlmEngine::submit; the OpenAI
// codec calls it too, to answer before anything is queued.
void validate_request(std::span<const int32_t> prompt, const SamplingParams& params,
                      const RequestBounds& bounds);

enum class FinishReason { kStop, kLength, kAbort };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "abort"

struct TokenLogprob {
  int32_t token_id = 0;
  float logprob = 0.f;
};

// Log-probabilities of one generated token (from the raw model distribution).
struct LogprobEntry {
  TokenLogprob sampled;
  std::vector<TokenLogprob> top;  // the SamplingParams::logprobs most likely, best first
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
  double sum_logprob = 0;  // SamplingParams::track_logprob: the generated tokens' logprobs summed
};

// New output of one of a request's n completions. The last event of a completion carries its
// finish reason; every accepted completion gets exactly one.
struct CompletionEvent {
  int index = 0;                   // which of the n completions
  std::vector<int32_t> token_ids;  // tokens generated since the previous event
  std::string text;                // text they complete (stop strings and their tails held back)
  std::vector<LogprobEntry> logprobs;  // one per token id when logprobs were requested
  std::optional<FinishReason> finish;
  Usage usage;               // filled on the finishing event
  double queue_seconds = 0;  // finishing event: submit to first scheduled (or to finish)
};

}  // namespace llm
