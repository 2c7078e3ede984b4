// A JSON body through the /v1/completions and /v1/chat/completions parsers. A body either
// fails with an ApiError (4xx) or yields a request the engine can run as is: prompts within
// the context window, token ids in the vocabulary, sampling parameters that validate.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "llm/error.h"
#include "server/http_request.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

void check(const llm::ApiRequest& r, const llm::ModelContext& ctx) {
  if (r.prompts.empty() || r.prompts.size() != r.prompt_texts.size()) std::abort();
  for (const auto& prompt : r.prompts) {
    if (prompt.empty() ||
        static_cast<int64_t>(prompt.size()) + r.params.max_tokens > ctx.max_model_len) {
      std::abort();
    }
    for (const int32_t id : prompt) {
      if (id < 0 || id >= ctx.vocab_size) std::abort();
    }
  }
  r.params.validate(ctx.vocab_size);  // throws llm::Error, which the fuzzer reports
}

void parse(llm::Endpoint endpoint, const nlohmann::ordered_json& body) {
  const llm::ModelContext& ctx = llm::fuzz::model_context();
  try {
    check(llm::parse_api_request(endpoint, body, ctx), ctx);
  } catch (const llm::ApiError& e) {
    if (e.status() < 400 || e.status() >= 500) std::abort();
    llm::api_error_body(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::ordered_json body;
  try {
    body = llm::parse_json_body(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const llm::ApiError& e) {
    llm::api_error_body(e);
    return 0;
  }
  parse(llm::Endpoint::kCompletions, body);
  parse(llm::Endpoint::kChatCompletions, body);
  return 0;
}
