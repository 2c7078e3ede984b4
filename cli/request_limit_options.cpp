#include "cli/request_limit_options.h"

#include <algorithm>
#include <string>

namespace po = boost::program_options;

namespace llm {

void add_request_limit_options(po::options_description& d, RequestLimits& l) {
  auto add = [&d](const char* name, int& v, const char* help) {
    d.add_options()(name, po::value(&v)->default_value(v), help);
  };
  add("max-prompt-tokens", l.max_prompt_tokens,
      "longest prompt in tokens (0: the model's context length)");
  add("max-tokens-limit", l.max_tokens,
      "largest max_tokens / max_completion_tokens a request may ask for; also caps the default "
      "(0: the rest of the context)");
  add("max-n", l.max_n, "largest n (completions per prompt; also capped by --max-num-seqs)");
  add("max-prompts", l.max_prompts, "prompts in one /v1/completions request");
  add("max-stop-strings", l.max_stop_strings, "stop strings per request");
  add("max-stop-length", l.max_stop_length, "bytes per stop string");
  add("max-logit-bias", l.max_logit_bias, "logit_bias entries per request");
  add("max-stop-token-ids", l.max_stop_token_ids, "stop_token_ids entries per request");
}

void require_at_least(const char* flag, int64_t value, int64_t lo) {
  if (value < lo) {
    throw po::error(std::string("--") + flag + " must be >= " + std::to_string(lo) + ", got " +
                    std::to_string(value));
  }
}

void check_request_limits(const RequestLimits& l) {
  const auto at_least = require_at_least;
  at_least("max-prompt-tokens", l.max_prompt_tokens, 0);
  at_least("max-tokens-limit", l.max_tokens, 0);
  at_least("max-n", l.max_n, 1);
  at_least("max-prompts", l.max_prompts, 1);
  at_least("max-stop-strings", l.max_stop_strings, 0);
  at_least("max-stop-length", l.max_stop_length, 1);
  at_least("max-logit-bias", l.max_logit_bias, 0);
  at_least("max-stop-token-ids", l.max_stop_token_ids, 0);
}

RequestLimits effective_request_limits(RequestLimits l, int max_num_seqs) {
  if (max_num_seqs > 0) l.max_n = std::min(l.max_n, max_num_seqs);
  return l;
}

}  // namespace llm
