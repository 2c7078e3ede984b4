// The rules every request meets, whichever front end sent it: written once, here, so that the
// server, the batch runner and the engine cannot drift apart in what they accept or say.
#include <cmath>
#include <string>

#include "llm/error.h"
#include "llm/request.h"
#include "llm/sampling_params.h"

namespace llm {
namespace {

[[noreturn]] void bad(const std::string& param, const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, msg, param);
}

std::string num(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string vocabulary(int vocab_size) { return "[0, " + std::to_string(vocab_size) + ")"; }

}  // namespace

void SamplingParams::validate(int vocab_size, int max_n) const {
  if (!(temperature >= 0 && temperature <= 2))
    bad("temperature", "temperature must be in [0, 2], got " + num(temperature));
  if (!(top_p > 0 && top_p <= 1)) bad("top_p", "top_p must be in (0, 1], got " + num(top_p));
  if (!(min_p >= 0 && min_p <= 1)) bad("min_p", "min_p must be in [0, 1], got " + num(min_p));
  if (top_k < -1) {
    bad("top_k", "top_k must be -1 (off), 0 (off) or positive, got " + std::to_string(top_k));
  }
  if (!(repetition_penalty > 0 && repetition_penalty <= 10)) {
    bad("repetition_penalty", "repetition_penalty must be in (0, 10], got " + num(repetition_penalty));
  }
  if (!(presence_penalty >= -2 && presence_penalty <= 2)) {
    bad("presence_penalty", "presence_penalty must be in [-2, 2], got " + num(presence_penalty));
  }
  if (!(frequency_penalty >= -2 && frequency_penalty <= 2)) {
    bad("frequency_penalty",
        "frequency_penalty must be in [-2, 2], got " + num(frequency_penalty));
  }
  if (max_tokens < 1) {
    bad("max_tokens", "max_tokens must be at least 1, got " + std::to_string(max_tokens));
  }
  if (min_tokens < 0 || min_tokens > max_tokens) {
    bad("min_tokens", "min_tokens must be in [0, max_tokens = " + std::to_string(max_tokens) +
                          "], got " + std::to_string(min_tokens));
  }
  if (n < 1 || (max_n > 0 && n > max_n)) {
    bad("n", max_n > 0 ? "n must be in [1, " + std::to_string(max_n) + "], got " + std::to_string(n)
                       : "n must be >= 1, got " + std::to_string(n));
  }
  if (structured_output && ignore_eos) {
    bad("ignore_eos",
        "ignore_eos cannot be combined with structured output: the output ends "
        "with EOS where it is complete");
  }
  if (logprobs < -1 || logprobs > kMaxLogprobs) {
    bad("logprobs", "logprobs must be in [0, " + std::to_string(kMaxLogprobs) + "], got " +
                        std::to_string(logprobs));
  }
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || id >= vocab_size) {
      bad("logit_bias", "logit_bias key " + std::to_string(id) + " is not a token id in " +
                            vocabulary(vocab_size));
    }
    if (!(bias >= -100 && bias <= 100))
      bad("logit_bias", "logit_bias values must be in [-100, 100], got " + num(bias));
  }
  for (int32_t id : stop_token_ids) {
    if (id < 0 || id >= vocab_size) {
      bad("stop_token_ids", "stop token id " + std::to_string(id) + " is outside the vocabulary " +
                                vocabulary(vocab_size));
    }
  }
  for (const std::string& s : stop) {
    if (s.empty()) bad("stop", "stop strings must not be empty");
  }
}

void validate_request(std::span<const int32_t> prompt, const SamplingParams& p,
                      const RequestBounds& b) {
  if (prompt.empty()) bad("prompt", "the prompt is empty");
  for (int32_t id : prompt) {
    if (id < 0 || id >= b.vocab_size) {
      bad("prompt", "prompt token id " + std::to_string(id) + " is outside the vocabulary " +
                        vocabulary(b.vocab_size));
    }
  }
  p.validate(b.vocab_size, b.max_n);
  const int64_t prompt_len = static_cast<int64_t>(prompt.size());
  if (prompt_len + p.max_tokens > b.max_model_len) {
    // The prompt alone may be the problem: then that is the parameter to fix.
    const bool prompt_alone = prompt_len >= b.max_model_len;
    bad(prompt_alone ? "prompt" : "max_tokens",
        "This model's maximum context length is " + std::to_string(b.max_model_len) +
            " tokens. However, you requested " + std::to_string(prompt_len + p.max_tokens) +
            " tokens (" + std::to_string(prompt_len) + " in the prompt, " +
            std::to_string(p.max_tokens) + " in the completion)" +
            (prompt_alone ? ": the prompt alone is " + std::to_string(prompt_len) + " tokens long"
                          : ""));
  }
}

}  // namespace llm
