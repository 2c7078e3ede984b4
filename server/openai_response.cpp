#include "server/openai_response.h"

#include <random>

#include "tokenizer/tokenizer.h"

namespace llm {
namespace {

using ojson = nlohmann::ordered_json;

// A token as text for logprobs: its decoded text, as vLLM and OpenAI show it (" hello", not the
// vocabulary's "Ġhello" or "▁hello"); see Tokenizer::token_text for partial UTF-8 characters.
std::string token_text(const Tokenizer& tok, int32_t id) {
  return tok.token_text(id);
}

ojson token_bytes(const std::string& s) {
  ojson b = ojson::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

ojson chat_logprob(const Tokenizer& tok, const TokenLogprob& t) {
  std::string raw;
  const std::string s = tok.token_text(t.token_id, &raw);
  // "bytes" carries the token's own bytes, so that a client can join a character split over
  // tokens, which the U+FFFD in "token" cannot show.
  return {{"token", s}, {"logprob", t.logprob}, {"bytes", token_bytes(raw)}};
}

ojson chat_logprobs(const Tokenizer& tok, const std::vector<LogprobEntry>& entries) {
  ojson content = ojson::array();
  for (const LogprobEntry& e : entries) {
    ojson item = chat_logprob(tok, e.sampled);
    ojson top = ojson::array();
    for (const TokenLogprob& t : e.top) top.push_back(chat_logprob(tok, t));
    item["top_logprobs"] = std::move(top);
    content.push_back(std::move(item));
  }
  return {{"content", std::move(content)}};
}

ojson completion_logprobs(const Tokenizer& tok, const std::vector<LogprobEntry>& entries,
                          const std::vector<size_t>& offsets) {
  ojson tokens = ojson::array(), lps = ojson::array(), tops = ojson::array(), offs = ojson::array();
  for (size_t i = 0; i < entries.size(); ++i) {
    tokens.push_back(token_text(tok, entries[i].sampled.token_id));
    lps.push_back(entries[i].sampled.logprob);
    ojson top = ojson::object();
    for (const TokenLogprob& t : entries[i].top) top[token_text(tok, t.token_id)] = t.logprob;
    tops.push_back(std::move(top));
    offs.push_back(i < offsets.size() ? offsets[i] : 0);
  }
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

ojson usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_prompt_tokens}}}};
}

bool wants_logprobs(const ApiRequest& r) { return r.params.logprobs >= 0; }

ChatOutputParser chat_parser(const ApiRequest& r) {
  return ChatOutputParser(r.reasoning_format, r.tool_call_format, make_tool_call_id_prefix());
}

// OpenAI's finish reason: "tool_calls" when the model stopped after calling tools.
std::string finish_reason(FinishReason reason, const ChatOutputParser* parser) {
  if (reason == FinishReason::kStop && parser && parser->has_tool_calls()) return "tool_calls";
  return finish_reason_name(reason);
}

ojson tool_call_json(const ToolCall& c) {
  return {{"id", c.id},
          {"type", "function"},
          {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
}

// delta.tool_calls entries: the first of a call carries its id, type and name.
ojson tool_call_delta_json(const ToolCallDelta& d) {
  ojson out = {{"index", d.index}};
  if (!d.id.empty()) {
    out["id"] = d.id;
    out["type"] = "function";
    out["function"] = {{"name", d.name}, {"arguments", d.arguments}};
  } else {
    out["function"] = {{"arguments", d.arguments}};
  }
  return out;
}

void append(ChatDelta& a, ChatDelta b) {
  a.reasoning += b.reasoning;
  a.content += b.content;
  for (ToolCallDelta& x : b.tool_calls) {
    if (!a.tool_calls.empty() && a.tool_calls.back().index == x.index) {
      a.tool_calls.back().arguments += x.arguments;
    } else {
      a.tool_calls.push_back(std::move(x));
    }
  }
}

}  // namespace

std::string make_response_id(Endpoint endpoint) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char hex[25];
  std::snprintf(hex, sizeof hex, "%016llx%08llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng() & 0xffffffffull));
  return std::string(endpoint == Endpoint::kCompletions ? "cmpl-" : "chatcmpl-") + hex;
}

std::string sse_frame(const ojson& payload) {
  return "data: " + payload.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n\n";
}

ResponseBuilder::ResponseBuilder(const ApiRequest& r, const Tokenizer& tok, std::string id, int64_t created)
    : req_(&r), tok_(&tok), id_(std::move(id)), created_(created),
      choices_(r.prompts.size() * static_cast<size_t>(r.params.n)) {
  for (size_t p = 0; p < r.prompts.size(); ++p) {
    for (int i = 0; i < r.params.n; ++i) {
      Choice& c = choices_[p * static_cast<size_t>(r.params.n) + static_cast<size_t>(i)];
      if (r.echo) c.text = r.prompt_texts[p];
      c.prompt_tokens = static_cast<int>(r.prompts[p].size());
    }
  }
}

void ResponseBuilder::add(size_t prompt_index, const CompletionEvent& ev) {
  Choice& c = choices_.at(prompt_index * static_cast<size_t>(req_->params.n) + static_cast<size_t>(ev.index));
  for (size_t i = 0; i < ev.logprobs.size(); ++i) c.text_offsets.push_back(c.text.size());
  c.text += ev.text;
  c.token_ids.insert(c.token_ids.end(), ev.token_ids.begin(), ev.token_ids.end());
  c.logprobs.insert(c.logprobs.end(), ev.logprobs.begin(), ev.logprobs.end());
  if (ev.finish) {
    c.finish_reason = finish_reason_name(*ev.finish);
    c.cached_tokens = ev.usage.cached_prompt_tokens;
    c.sum_logprob = ev.usage.sum_logprob;
    ++num_finished_;
  }
}

Usage ResponseBuilder::usage() const {
  Usage u;
  for (size_t i = 0; i < choices_.size(); ++i) {
    if (i % static_cast<size_t>(req_->params.n) == 0) {
      u.prompt_tokens += choices_[i].prompt_tokens;
      u.cached_prompt_tokens += choices_[i].cached_tokens;
    }
    u.completion_tokens += static_cast<int>(choices_[i].token_ids.size());
    u.sum_logprob += choices_[i].sum_logprob;
  }
  return u;
}

ojson ResponseBuilder::body() const {
  const bool chat = req_->endpoint == Endpoint::kChatCompletions;
  ojson choices = ojson::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    ojson choice = {{"index", i}};
    std::optional<ChatOutputParser> parser;
    if (chat) {
      parser.emplace(chat_parser(*req_));
      ChatDelta d = parser->push(c.text);
      append(d, parser->finish());
      ojson message = {{"role", "assistant"}};
      // OpenAI: content is null when the message is only tool calls.
      message["content"] =
          d.content.empty() && parser->has_tool_calls() ? ojson(nullptr) : ojson(d.content);
      if (req_->reasoning_format) {
        message["reasoning_content"] = d.reasoning.empty() ? ojson(nullptr) : ojson(d.reasoning);
      }
      if (parser->has_tool_calls()) {
        message["tool_calls"] = ojson::array();
        for (const ToolCall& call : parser->tool_calls())
          message["tool_calls"].push_back(tool_call_json(call));
      }
      choice["message"] = std::move(message);
      choice["logprobs"] = wants_logprobs(*req_) ? chat_logprobs(*tok_, c.logprobs) : ojson(nullptr);
    } else {
      choice["text"] = c.text;
      choice["logprobs"] = wants_logprobs(*req_) ? completion_logprobs(*tok_, c.logprobs, c.text_offsets) : ojson(nullptr);
    }
    std::string reason = c.finish_reason;
    if (reason == "stop" && parser && parser->has_tool_calls()) reason = "tool_calls";
    choice["finish_reason"] = reason.empty() ? ojson(nullptr) : ojson(reason);
    choices.push_back(std::move(choice));
  }
  return {{"id", id_},
          {"object", chat ? "chat.completion" : "text_completion"},
          {"created", created_},
          {"model", req_->model},
          {"choices", std::move(choices)},
          {"usage", usage_json(usage())}};
}

StreamEncoder::StreamEncoder(const ApiRequest& r, const Tokenizer& tok, std::string id, int64_t created)
    : req_(&r), tok_(&tok), id_(std::move(id)), created_(created),
      text_offset_(r.prompts.size() * static_cast<size_t>(r.params.n), 0) {
  for (const auto& p : r.prompts) prompt_tokens_.push_back(static_cast<int>(p.size()));
  if (r.endpoint == Endpoint::kChatCompletions) {
    for (size_t i = 0; i < text_offset_.size(); ++i) parsers_.push_back(chat_parser(r));
  }
}

ojson StreamEncoder::chunk_base() const {
  const bool chat = req_->endpoint == Endpoint::kChatCompletions;
  ojson c = {{"id", id_},
             {"object", chat ? "chat.completion.chunk" : "text_completion"},
             {"created", created_},
             {"model", req_->model},
             {"choices", ojson::array()}};
  if (req_->include_usage) c["usage"] = nullptr;  // as OpenAI: null on every chunk but the last
  return c;
}

std::string StreamEncoder::start() {
  std::string out;
  const size_t num_choices = text_offset_.size();
  for (size_t i = 0; i < num_choices; ++i) {
    ojson c = chunk_base();
    if (req_->endpoint == Endpoint::kChatCompletions) {
      c["choices"].push_back({{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
      out += sse_frame(c);
    } else if (req_->echo) {
      const std::string& prompt = req_->prompt_texts[i / static_cast<size_t>(req_->params.n)];
      c["choices"].push_back({{"index", i}, {"text", prompt}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
      text_offset_[i] = prompt.size();
      out += sse_frame(c);
    }
  }
  return out;
}

std::string StreamEncoder::event(size_t prompt_index, const CompletionEvent& ev) {
  const size_t index = prompt_index * static_cast<size_t>(req_->params.n) + static_cast<size_t>(ev.index);
  completion_tokens_ += static_cast<int>(ev.token_ids.size());
  if (ev.finish && ev.index == 0) cached_tokens_ += ev.usage.cached_prompt_tokens;
  if (ev.text.empty() && !ev.finish) return "";  // held back (a possible stop string or UTF-8 tail)
  const bool chat = req_->endpoint == Endpoint::kChatCompletions;
  ojson choice = {{"index", index}};
  std::vector<size_t> offsets;
  for (size_t i = 0; i < ev.logprobs.size(); ++i) offsets.push_back(text_offset_[index]);
  if (chat) {
    ChatOutputParser& parser = parsers_[index];
    ChatDelta d = parser.push(ev.text);
    if (ev.finish) append(d, parser.finish());
    // Text the parsers hold back (a possible tag or call) goes out with a later delta.
    if (d.empty() && !ev.finish && ev.logprobs.empty()) return "";
    ojson delta = ojson::object();
    if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
    if (!d.content.empty()) delta["content"] = d.content;
    if (!d.tool_calls.empty()) {
      delta["tool_calls"] = ojson::array();
      for (const ToolCallDelta& t : d.tool_calls)
        delta["tool_calls"].push_back(tool_call_delta_json(t));
    }
    choice["delta"] = std::move(delta);
    choice["logprobs"] = wants_logprobs(*req_) && !ev.logprobs.empty() ? chat_logprobs(*tok_, ev.logprobs) : ojson(nullptr);
    text_offset_[index] += ev.text.size();
    choice["finish_reason"] =
        ev.finish ? ojson(finish_reason(*ev.finish, &parser)) : ojson(nullptr);
    ojson c = chunk_base();
    c["choices"].push_back(std::move(choice));
    return sse_frame(c);
  } else {
    choice["text"] = ev.text;
    choice["logprobs"] = wants_logprobs(*req_) && !ev.logprobs.empty() ? completion_logprobs(*tok_, ev.logprobs, offsets) : ojson(nullptr);
  }
  text_offset_[index] += ev.text.size();
  choice["finish_reason"] = ev.finish ? ojson(finish_reason_name(*ev.finish)) : ojson(nullptr);
  ojson c = chunk_base();
  c["choices"].push_back(std::move(choice));
  return sse_frame(c);
}

std::string StreamEncoder::finish() {
  std::string out;
  if (req_->include_usage) {
    Usage u;
    for (int p : prompt_tokens_) u.prompt_tokens += p;
    u.completion_tokens = completion_tokens_;
    u.cached_prompt_tokens = cached_tokens_;
    ojson c = chunk_base();
    c["usage"] = usage_json(u);
    out += sse_frame(c);
  }
  return out + "data: [DONE]\n\n";
}

}  // namespace llm
