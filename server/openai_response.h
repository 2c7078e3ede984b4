// Response bodies for OpenAI completions and chat completions, built from engine events:
// ResponseBuilder gathers a whole (non-streaming) response; StreamEncoder turns each event into
// SSE chunks. Shared by the HTTP server and the batch runner.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llm/request.h"
#include "server/chat_output_parser.h"
#include "server/openai_request.h"

namespace llm {

class Tokenizer;

// "cmpl-..." / "chatcmpl-..." with 24 random hex digits.
std::string make_response_id(Endpoint endpoint);

class ResponseBuilder {
 public:
  ResponseBuilder(const ApiRequest& request, const Tokenizer& tokenizer, std::string id, int64_t created);
  void add(size_t prompt_index, const CompletionEvent& event);
  // The full response body; call once every choice has finished.
  nlohmann::ordered_json body() const;
  // Totals over every prompt and choice (prompt tokens counted once per prompt).
  Usage usage() const;
  int num_finished() const { return num_finished_; }
  int num_choices() const { return static_cast<int>(choices_.size()); }

 private:
  struct Choice {
    std::string text;
    std::vector<int32_t> token_ids;
    std::vector<LogprobEntry> logprobs;
    std::vector<size_t> text_offsets;
    std::string finish_reason;
    int prompt_tokens = 0;
    int cached_tokens = 0;
    double sum_logprob = 0;  // Usage::sum_logprob of the finishing event
  };
  const ApiRequest* req_;
  const Tokenizer* tok_;
  std::string id_;
  int64_t created_;
  std::vector<Choice> choices_;
  int num_finished_ = 0;
};

class StreamEncoder {
 public:
  StreamEncoder(const ApiRequest& request, const Tokenizer& tokenizer, std::string id, int64_t created);
  // SSE frames to send before any token (chat: the role delta of every choice).
  std::string start();
  // SSE frames for one event; empty when it carries nothing to send yet.
  std::string event(size_t prompt_index, const CompletionEvent& event);
  // The usage chunk (when stream_options.include_usage) and "data: [DONE]".
  std::string finish();

 private:
  nlohmann::ordered_json chunk_base() const;
  const ApiRequest* req_;
  std::vector<ChatOutputParser> parsers_;  // chat: per choice
  const Tokenizer* tok_;
  std::string id_;
  int64_t created_;
  std::vector<int> prompt_tokens_;  // per prompt
  std::vector<size_t> text_offset_;  // per choice (completions logprobs)
  int completion_tokens_ = 0;
  int cached_tokens_ = 0;
};

// "data: <json>\n\n"
std::string sse_frame(const nlohmann::ordered_json& payload);

}  // namespace llm
