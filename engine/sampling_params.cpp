#include "llm/sampling_params.h"

#include <cmath>
#include <string>

#include "llm/error.h"

namespace llm {
namespace {

[[noreturn]] void bad(const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, msg);
}

std::string num(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

void SamplingParams::validate(int vocab_size) const {
  if (!std::isfinite(temperature) || temperature < 0)
    bad("temperature must be >= 0, got " + num(temperature));
  if (!(top_p > 0 && top_p <= 1)) bad("top_p must be in (0, 1], got " + num(top_p));
  if (!(min_p >= 0 && min_p <= 1)) bad("min_p must be in [0, 1], got " + num(min_p));
  if (top_k < -1) bad("top_k must be -1 (off), 0 (off) or positive, got " + std::to_string(top_k));
  if (!(repetition_penalty > 0 && std::isfinite(repetition_penalty))) {
    bad("repetition_penalty must be > 0, got " + num(repetition_penalty));
  }
  if (!(presence_penalty >= -2 && presence_penalty <= 2)) {
    bad("presence_penalty must be in [-2, 2], got " + num(presence_penalty));
  }
  if (!(frequency_penalty >= -2 && frequency_penalty <= 2)) {
    bad("frequency_penalty must be in [-2, 2], got " + num(frequency_penalty));
  }
  if (max_tokens < 1) bad("max_tokens must be >= 1, got " + std::to_string(max_tokens));
  if (min_tokens < 0 || min_tokens > max_tokens) {
    bad("min_tokens must be in [0, max_tokens], got " + std::to_string(min_tokens));
  }
  if (n < 1) bad("n must be >= 1, got " + std::to_string(n));
  if (logprobs < -1 || logprobs > kMaxLogprobs) {
    bad("logprobs must be in [0, " + std::to_string(kMaxLogprobs) + "], got " +
        std::to_string(logprobs));
  }
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || id >= vocab_size) {
      bad("logit_bias token id " + std::to_string(id) + " is outside the vocabulary [0, " +
          std::to_string(vocab_size) + ")");
    }
    if (!(bias >= -100 && bias <= 100))
      bad("logit_bias values must be in [-100, 100], got " + num(bias));
  }
  for (int32_t id : stop_token_ids) {
    if (id < 0 || id >= vocab_size) {
      bad("stop_token_ids entry " + std::to_string(id) + " is outside the vocabulary [0, " +
          std::to_string(vocab_size) + ")");
    }
  }
  for (const std::string& s : stop) {
    if (s.empty()) bad("stop strings must not be empty");
  }
}

}  // namespace llm
