// RequestLimits: the operator's caps on one OpenAI request, beyond what the model itself
// allows. A public server needs them because each of these makes one request cost more CPU or
// memory than its body size suggests. parse_api_request answers 400 naming the parameter.
// llm-serve and llm-batch read them from the same flags (cli/request_limit_options.h), so a
// body the server refuses fails the same way in a batch file.
#pragma once

namespace llm {

struct RequestLimits {
  int max_prompt_tokens = 0;  // per prompt; 0: the context window is the only bound
  int max_tokens = 0;         // max_tokens / max_completion_tokens; 0: the rest of the context
  int max_n = 64;             // completions per prompt
  int max_prompts = 64;       // prompts in one completions request
  int max_stop_strings = 16;
  int max_stop_length = 256;      // bytes per stop string
  int max_logit_bias = 1024;      // logit_bias entries
  int max_stop_token_ids = 1024;  // stop_token_ids entries: each generated token is checked
                                  // against all of them
};

}  // namespace llm
