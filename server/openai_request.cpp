#include "server/openai_request.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "llm/error.h"
#include "llm/request.h"
#include "server/openai_structured_output.h"
#include "server/openai_tools.h"
#include "server/request_fields.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace llm {
namespace {

using ojson = nlohmann::ordered_json;

using request_fields::bad;
using request_fields::field;

// Typed readers: absent or null fields keep the default; a present field of the wrong type is
// a 400 naming the parameter.
bool read_bool(const ojson& body, const char* name, bool dflt) {
  const ojson* v = field(body, name);
  if (!v) return dflt;
  if (!v->is_boolean()) bad(name, std::string("'") + name + "' must be a boolean");
  return v->get<bool>();
}

double read_number(const ojson& body, const char* name, double dflt) {
  const ojson* v = field(body, name);
  if (!v) return dflt;
  if (!v->is_number()) bad(name, std::string("'") + name + "' must be a number");
  const double d = v->get<double>();
  if (!std::isfinite(d)) bad(name, std::string("'") + name + "' must be finite");
  return d;
}

int64_t read_int(const ojson& body, const char* name, int64_t dflt) {
  const ojson* v = field(body, name);
  if (!v) return dflt;
  if (!v->is_number_integer()) bad(name, std::string("'") + name + "' must be an integer");
  return v->get<int64_t>();
}

// An integer the engine holds as an int: values beyond its range saturate, and the one set of
// range rules (validate_request) then names them.
int read_int32(const ojson& body, const char* name, int dflt) {
  const int64_t v = read_int(body, name, dflt);
  return static_cast<int>(std::clamp<int64_t>(v, std::numeric_limits<int>::min(),
                                              std::numeric_limits<int>::max()));
}

int read_int_in(const ojson& body, const char* name, int dflt, int64_t lo, int64_t hi) {
  if (!field(body, name)) return dflt;  // the default may lie outside (e.g. -1 for "off")
  const int64_t v = read_int(body, name, dflt);
  if (v < lo || v > hi) {
    bad(name, std::string("'") + name + "' must be in [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "], got " + std::to_string(v));
  }
  return static_cast<int>(v);
}

// A JSON integer as a token id; one outside int32 becomes -1, which validate_request refuses
// as outside the vocabulary (no id that large exists).
int32_t token_id(const ojson& x) {
  const int64_t id = x.is_number_unsigned() && x.get<uint64_t>() > INT64_MAX ? -1 : x.get<int64_t>();
  return id >= 0 && id <= std::numeric_limits<int32_t>::max() ? static_cast<int32_t>(id) : -1;
}

void read_sampling(const ojson& body, const ModelContext& ctx, SamplingParams& p) {
  const RequestLimits& lim = ctx.limits;
  // Types here; ranges in validate_request (parse_api_request's end).
  p.temperature = read_number(body, "temperature", 1.0);
  p.top_p = read_number(body, "top_p", 1.0);
  p.top_k = read_int32(body, "top_k", 0);
  p.min_p = read_number(body, "min_p", 0.0);
  p.presence_penalty = read_number(body, "presence_penalty", 0.0);
  p.frequency_penalty = read_number(body, "frequency_penalty", 0.0);
  p.repetition_penalty = read_number(body, "repetition_penalty", 1.0);
  p.n = read_int32(body, "n", 1);
  if (const ojson* b = field(body, "best_of"); b && (!b->is_number_integer() || b->get<int64_t>() != p.n)) {
    bad("best_of", "'best_of' is not supported (it may only equal n)");
  }
  p.min_tokens = read_int32(body, "min_tokens", 0);
  p.ignore_eos = read_bool(body, "ignore_eos", false);
  if (const ojson* s = field(body, "seed")) {
    if (!s->is_number_integer()) bad("seed", "'seed' must be an integer");
    p.seed = s->is_number_unsigned() ? s->get<uint64_t>() : static_cast<uint64_t>(s->get<int64_t>());
  }
  if (const ojson* s = field(body, "stop")) {
    if (s->is_string()) {
      p.stop.push_back(s->get<std::string>());
    } else if (s->is_array()) {
      for (const ojson& x : *s) {
        if (!x.is_string()) bad("stop", "'stop' must be a string or a list of strings");
        p.stop.push_back(x.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or a list of strings");
    }
    if (p.stop.size() > static_cast<size_t>(lim.max_stop_strings)) {
      bad("stop", "'stop' may hold at most " + std::to_string(lim.max_stop_strings) +
                      " strings, got " + std::to_string(p.stop.size()));
    }
    for (const std::string& x : p.stop) {
      if (x.size() > static_cast<size_t>(lim.max_stop_length)) {
        bad("stop", "stop strings may be at most " + std::to_string(lim.max_stop_length) +
                        " bytes long, got one of " + std::to_string(x.size()));
      }
    }
  }
  if (const ojson* s = field(body, "stop_token_ids")) {
    if (!s->is_array()) bad("stop_token_ids", "'stop_token_ids' must be a list of integers");
    if (s->size() > static_cast<size_t>(lim.max_stop_token_ids)) {
      bad("stop_token_ids", "'stop_token_ids' may hold at most " +
                                std::to_string(lim.max_stop_token_ids) + " ids, got " +
                                std::to_string(s->size()));
    }
    for (const ojson& x : *s) {
      if (!x.is_number_integer()) bad("stop_token_ids", "'stop_token_ids' must be a list of integers");
      p.stop_token_ids.push_back(token_id(x));
    }
  }
  if (const ojson* lb = field(body, "logit_bias")) {
    if (!lb->is_object()) bad("logit_bias", "'logit_bias' must be an object of token id -> bias");
    if (lb->size() > static_cast<size_t>(lim.max_logit_bias)) {
      bad("logit_bias", "'logit_bias' may hold at most " + std::to_string(lim.max_logit_bias) +
                            " entries, got " + std::to_string(lb->size()));
    }
    for (auto it = lb->begin(); it != lb->end(); ++it) {
      char* end = nullptr;
      const long long id = std::strtoll(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end != '\0') {
        bad("logit_bias", "logit_bias key '" + it.key() + "' is not a token id");
      }
      if (!it.value().is_number()) bad("logit_bias", "logit_bias values must be numbers");
      p.logit_bias.emplace_back(token_id(ojson(id)), static_cast<float>(it.value().get<double>()));
    }
  }
}

// A completions prompt: a string, a list of strings, a list of token ids, or a list of lists.
void read_completion_prompts(const ojson& body, const ModelContext& ctx, ApiRequest& r) {
  const ojson* p = field(body, "prompt");
  if (!p) bad("prompt", "'prompt' is required");
  auto add_text = [&](const std::string& text) {
    r.prompts.push_back(ctx.tokenizer->encode(text));
    r.prompt_texts.push_back(text);
  };
  auto add_ids = [&](const ojson& ids) {
    std::vector<int32_t> v;
    for (const ojson& x : ids) {
      if (!x.is_number_integer()) bad("prompt", "token id prompts must contain integers only");
      v.push_back(token_id(x));
    }
    r.prompt_texts.emplace_back();  // decoded once validate_request has checked the ids
    r.prompts.push_back(std::move(v));
  };
  if (p->is_string()) {
    add_text(p->get<std::string>());
  } else if (p->is_array() && !p->empty()) {
    if ((*p)[0].is_number_integer()) {
      add_ids(*p);
    } else {
      // Counted before tokenizing: a long list must not cost the server work before it is refused.
      if (p->size() > static_cast<size_t>(ctx.limits.max_prompts)) {
        bad("prompt", "'prompt' may hold at most " + std::to_string(ctx.limits.max_prompts) +
                          " prompts, got " + std::to_string(p->size()));
      }
      for (const ojson& x : *p) {
        if (x.is_string()) add_text(x.get<std::string>());
        else if (x.is_array() && !x.empty()) add_ids(x);
        else bad("prompt", "'prompt' must be a string, a list of strings, a list of token ids or a list of such lists");
      }
    }
  } else {
    bad("prompt", "'prompt' must be a non-empty string, a list of strings, a list of token ids or a list of such lists");
  }
}

// Whether and how the output is read for tool calls, and the grammar that forces one when
// tool_choice is required or names a function.
void read_tool_choice(const std::optional<ToolRequest>& tools, const ModelContext& ctx,
                      ApiRequest& r) {
  if (!tools || tools->choice == ToolChoice::kNone) return;
  if (!ctx.tool_call_format) {
    bad("tools",
        "this model's chat template writes tool calls in no format the server knows; "
        "start it with --tool-call-parser hermes|llama3_json|mistral, or send "
        "tool_choice \"none\"");
  }
  if (r.params.structured_output) {
    // Both would constrain the same text: content JSON could read as a call, or a call break
    // the schema.
    bad(r.params.structured_output->param,
        "'" + r.params.structured_output->param +
            "' cannot be combined with tools unless tool_choice is \"none\"");
  }
  r.tool_call_format = ctx.tool_call_format;
  if (tools->choice == ToolChoice::kRequired || tools->choice == ToolChoice::kNamed) {
    r.params.structured_output =
        StructuredOutput{StructuredOutput::Kind::kStructuralTag,
                         forced_tool_call_tag(*tools, *ctx.tool_call_format), "tools"};
  }
}

// OpenAI's assistant tool calls carry their arguments as a JSON string; chat templates (as
// transformers renders them, and vLLM before rendering) read them as an object.
void arguments_as_objects(ojson& msg) {
  auto calls = msg.find("tool_calls");
  if (calls == msg.end() || !calls->is_array()) return;
  for (ojson& call : *calls) {
    if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) continue;
    ojson& args = call["function"]["arguments"];
    if (!args.is_string()) continue;
    try {
      args = ojson::parse(args.get<std::string>());
    } catch (const ojson::exception&) {
      bad("messages", "a tool call's function.arguments must be a JSON string of an object");
    }
  }
}

ojson normalise_messages(const ojson& messages) {
  if (!messages.is_array() || messages.empty()) bad("messages", "'messages' must be a non-empty list");
  ojson out = ojson::array();
  for (const ojson& m : messages) {
    if (!m.is_object()) bad("messages", "each message must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) bad("messages", "each message needs a string 'role'");
    ojson msg = m;
    auto content = m.find("content");
    if (content != m.end() && content->is_array()) {
      // Content parts: the text ones are joined; anything else (images) is not supported.
      std::string text;
      for (const ojson& part : *content) {
        if (!part.is_object() || part.value("type", ojson()) != "text" || !part.contains("text") || !part["text"].is_string()) {
          bad("messages", "only text content parts are supported");
        }
        text += part["text"].get<std::string>();
      }
      msg["content"] = text;
    } else if (content != m.end() && !content->is_string() && !content->is_null()) {
      bad("messages", "message 'content' must be a string, null or a list of text parts");
    }
    arguments_as_objects(msg);
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace

bool limit_request_json_depth(int depth, ojson::parse_event_t, ojson&) {
  if (depth > kMaxRequestJsonDepth) {
    throw ApiError(400, "the JSON nests deeper than " + std::to_string(kMaxRequestJsonDepth) + " levels");
  }
  return true;
}

ojson read_chat_template_kwargs(const ojson& body) {
  const ojson* kwargs = field(body, "chat_template_kwargs");
  if (!kwargs) return ojson::object();
  if (!kwargs->is_object()) bad("chat_template_kwargs", "'chat_template_kwargs' must be an object");
  return *kwargs;
}

std::vector<int32_t> render_chat_prompt(const ojson& messages, const ojson& tools,
                                        bool add_generation_prompt, const ojson& template_kwargs,
                                        const ModelContext& ctx, std::string* rendered) {
  if (!ctx.chat_template) throw ApiError(400, "the model's chat template is unusable: " + ctx.chat_template_error, "messages");
  ChatTemplate::Inputs in;
  in.messages = normalise_messages(messages);
  in.tools = tools;
  in.add_generation_prompt = add_generation_prompt;
  in.bos_token = ctx.bos_token;
  in.eos_token = ctx.eos_token;
  in.extra_variables = template_kwargs;
  std::string text;
  try {
    text = ctx.chat_template->render(in);
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "messages");
  }
  if (rendered) *rendered = text;
  return ctx.tokenizer->encode_with_special_tokens(text);
}

ApiRequest parse_api_request(Endpoint endpoint, const ojson& body, const ModelContext& ctx) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
  ApiRequest r;
  r.endpoint = endpoint;
  if (const ojson* m = field(body, "model")) {
    if (!m->is_string()) bad("model", "'model' must be a string");
    r.model = m->get<std::string>();
    if (r.model != ctx.served_model_name) {
      throw ApiError(404, "The model '" + r.model + "' does not exist (this server serves '" +
                              ctx.served_model_name + "')", "model", "model_not_found");
    }
  }
  r.model = ctx.served_model_name;
  r.stream = read_bool(body, "stream", false);
  if (const ojson* so = field(body, "stream_options")) {
    if (!so->is_object()) bad("stream_options", "'stream_options' must be an object");
    r.include_usage = read_bool(*so, "include_usage", false);
  }
  read_sampling(body, ctx, r.params);
  r.params.structured_output = read_structured_output(body);
  if (const ojson* s = field(body, "suffix")) {
    if (!s->is_string() || !s->get<std::string>().empty()) bad("suffix", "'suffix' is not supported");
  }

  int64_t max_tokens = -1;
  const char* max_tokens_param = "max_tokens";
  if (endpoint == Endpoint::kCompletions) {
    read_completion_prompts(body, ctx, r);
    r.echo = read_bool(body, "echo", false);
    r.params.logprobs = read_int_in(body, "logprobs", -1, 0, SamplingParams::kMaxLogprobs);
    if (r.echo && r.params.logprobs >= 0) bad("echo", "'echo' together with 'logprobs' is not supported");
    max_tokens = read_int(body, "max_tokens", 16);
  } else {
    const ojson* messages = field(body, "messages");
    if (!messages) bad("messages", "'messages' is required");
    const std::optional<ToolRequest> tools = read_tools(body);
    read_tool_choice(tools, ctx, r);
    r.reasoning_format = ctx.reasoning_format;
    using Kind = StructuredOutput::Kind;
    if (r.reasoning_format && r.params.structured_output &&
        r.params.structured_output->kind != Kind::kRegex &&
        r.params.structured_output->kind != Kind::kChoice &&
        r.params.structured_output->kind != Kind::kGrammar) {
      // The model thinks first; a JSON answer or a tool call is constrained after its think
      // block. (A regex, choice or grammar describes the whole output, think block included.)
      r.params.structured_output->reasoning = *r.reasoning_format == ReasoningFormat::kDeepSeekR1
                                                  ? StructuredOutput::Reasoning::kOpened
                                                  : StructuredOutput::Reasoning::kOptional;
    }
    std::string text;
    r.prompts.push_back(render_chat_prompt(*messages, tools ? tools->tools : ojson(nullptr),
                                           read_bool(body, "add_generation_prompt", true),
                                           read_chat_template_kwargs(body), ctx, &text));
    r.prompt_texts.push_back(std::move(text));
    r.logprobs = read_bool(body, "logprobs", false);
    const int top = read_int_in(body, "top_logprobs", -1, 0, SamplingParams::kMaxLogprobs);
    if (top >= 0 && !r.logprobs) bad("top_logprobs", "'top_logprobs' requires 'logprobs': true");
    if (r.logprobs) r.params.logprobs = std::max(top, 0);
    if (field(body, "max_completion_tokens")) max_tokens_param = "max_completion_tokens";
    max_tokens = read_int(body, "max_completion_tokens", read_int(body, "max_tokens", -1));
  }
  const bool max_tokens_given = field(body, max_tokens_param) != nullptr;

  size_t longest = 0;
  for (const auto& p : r.prompts) longest = std::max(longest, p.size());
  const int64_t prompt_len = static_cast<int64_t>(longest);
  const char* prompt_param = endpoint == Endpoint::kCompletions ? "prompt" : "messages";
  // The operator's limits first, then the model's own (validate_request).
  const RequestLimits& lim = ctx.limits;
  if (lim.max_prompt_tokens > 0 && prompt_len > lim.max_prompt_tokens) {
    bad(prompt_param, "This server accepts prompts of at most " +
                          std::to_string(lim.max_prompt_tokens) + " tokens, but the prompt is " +
                          std::to_string(prompt_len) + " tokens long");
  }
  if (lim.max_tokens > 0 && max_tokens > lim.max_tokens) {
    bad(max_tokens_param, "'" + std::string(max_tokens_param) + "' may be at most " +
                              std::to_string(lim.max_tokens) + " on this server, got " +
                              std::to_string(max_tokens));
  }
  // Chat's default is the rest of the context (at least 1, so a prompt that fills it is
  // reported as too long); a negative value that was sent is an error below.
  if (!max_tokens_given && max_tokens < 0) {
    max_tokens = std::max<int64_t>(ctx.max_model_len - prompt_len, 1);
  }
  // A default (not asked for) stays within the server's cap rather than failing the request.
  if (!max_tokens_given && lim.max_tokens > 0) {
    max_tokens = std::min<int64_t>(max_tokens, lim.max_tokens);
  }
  r.params.max_tokens = static_cast<int>(
      std::clamp<int64_t>(max_tokens, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
  try {
    for (const auto& p : r.prompts) {
      validate_request(p, r.params, {ctx.vocab_size, ctx.max_model_len, lim.max_n});
    }
  } catch (const Error& e) {
    // The engine's parameter names, as this endpoint spells them.
    std::string param = e.param();
    if (param == "prompt") param = prompt_param;
    if (param == "max_tokens") param = max_tokens_param;
    if (param == "logprobs" && endpoint == Endpoint::kChatCompletions) param = "top_logprobs";
    throw ApiError(400, e.what(), param);
  }
  for (size_t i = 0; i < r.prompts.size(); ++i) {
    if (r.prompt_texts[i].empty()) r.prompt_texts[i] = ctx.tokenizer->decode(r.prompts[i]);
  }
  return r;
}

}  // namespace llm
