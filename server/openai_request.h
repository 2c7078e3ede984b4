// Parsing and validation of OpenAI /v1/completions and /v1/chat/completions bodies into what
// the engine runs. Shared by the HTTP server and the batch runner: one codec, not a copy.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "llm/sampling_params.h"
#include "server/api_error.h"
#include "server/reasoning_parser.h"
#include "server/request_limits.h"
#include "server/tool_call_parser.h"

namespace llm {

class Tokenizer;
class ChatTemplate;

enum class Endpoint { kCompletions, kChatCompletions };

// What parsing needs to know about the served model.
struct ModelContext {
  const Tokenizer* tokenizer = nullptr;
  const ChatTemplate* chat_template = nullptr;  // the model's, or the documented fallback
  std::string chat_template_error;  // why the model's template does not compile (chat is then 400)
  std::optional<std::string> bos_token, eos_token;  // as the template sees them
  std::string served_model_name;
  int max_model_len = 0;
  int vocab_size = 0;
  RequestLimits limits;  // the operator's, on top of the model's own bounds
  // How chat output is read: the model's tool-call format (--tool-call-parser, or detected from
  // its chat template) and reasoning format (--reasoning-parser). None: not parsed.
  std::optional<ToolCallFormat> tool_call_format;
  std::optional<ReasoningFormat> reasoning_format;
};

// A validated request: one engine request per prompt, each with params.n completions.
struct ApiRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;
  std::vector<std::vector<int32_t>> prompts;  // token ids, BOS included when the model adds it
  std::vector<std::string> prompt_texts;      // the text of each prompt (for echo)
  SamplingParams params;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool echo = false;           // completions: prepend the prompt to the text
  bool logprobs = false;       // chat: logprobs requested (params.logprobs holds top_logprobs)
  // Chat: how the output is split into content, reasoning_content and tool_calls
  // (chat_output_parser.h). tool_call_format is set when the request's tools may be called.
  std::optional<ToolCallFormat> tool_call_format;
  std::optional<ReasoningFormat> reasoning_format;
};

// Throws ApiError (400 for malformed fields, anything beyond ctx.limits, and whatever
// validate_request refuses, naming the parameter; 404 for an unknown model name). Ranges are
// validate_request's, so this codec, the batch runner and the engine say the same thing.
ApiRequest parse_api_request(Endpoint endpoint, const nlohmann::ordered_json& body,
                             const ModelContext& ctx);

// Request JSON (an HTTP body, a batch line) nests at most this deep. nlohmann parses and
// destroys iteratively, but copying and printing a value recurse: a few megabytes of brackets
// would overflow the stack. Real requests nest a dozen levels (tool schemas a few more).
inline constexpr int kMaxRequestJsonDepth = 512;

// A parser callback for ordered_json::parse that throws ApiError 400 past that depth.
bool limit_request_json_depth(int depth, nlohmann::ordered_json::parse_event_t event,
                              nlohmann::ordered_json& parsed);

// A body's "chat_template_kwargs" (vLLM's field): an object whose keys become template variables
// (e.g. a fixed "date_string", "enable_thinking"). Absent or null: an empty object. Throws
// ApiError 400 naming the parameter when it is anything else.
nlohmann::ordered_json read_chat_template_kwargs(const nlohmann::ordered_json& body);

// Renders chat messages with the model's template and tokenizes the result (no extra BOS:
// templates write bos_token themselves). TEMPLATE_KWARGS (an object) are more template variables;
// messages, tools and add_generation_prompt come from their own arguments even when a kwarg
// shares the name, while bos_token / eos_token may be overridden. Throws ApiError 400 with the
// template's message.
std::vector<int32_t> render_chat_prompt(const nlohmann::ordered_json& messages,
                                        const nlohmann::ordered_json& tools,
                                        bool add_generation_prompt,
                                        const nlohmann::ordered_json& template_kwargs,
                                        const ModelContext& ctx, std::string* rendered = nullptr);

}  // namespace llm
