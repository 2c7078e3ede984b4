#include "server/tool_call_parser.h"

#include <utility>

namespace llm {
namespace {

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralOpen = "[TOOL_CALLS]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

}  // namespace

std::optional<ToolCallFormat> tool_call_format_from_name(std::string_view name) {
  if (name == "hermes") return ToolCallFormat::kHermes;
  if (name == "llama3_json") return ToolCallFormat::kLlama3Json;
  if (name == "mistral") return ToolCallFormat::kMistral;
  return std::nullopt;
}

std::string_view tool_call_format_name(ToolCallFormat f) {
  switch (f) {
    case ToolCallFormat::kHermes:
      return "hermes";
    case ToolCallFormat::kLlama3Json:
      return "llama3_json";
    case ToolCallFormat::kMistral:
      return "mistral";
  }
  return "unknown";
}

std::optional<ToolCallFormat> detect_tool_call_format(std::string_view src) {
  if (contains(src, kHermesOpen)) return ToolCallFormat::kHermes;
  if (contains(src, kMistralOpen)) return ToolCallFormat::kMistral;
  // Llama 3.2's template describes the JSON ({"name": ..., "parameters": ...}) in prose and
  // writes no <|python_tag|>; 3.1's writes both. "parameters" alone is too common a word, so
  // it counts only with Llama 3's own markers.
  if (contains(src, kPythonTag)) return ToolCallFormat::kLlama3Json;
  if (contains(src, "\"parameters\"") &&
      (contains(src, "<|eom_id|>") || contains(src, "<|eot_id|>") ||
       contains(src, "Environment: ipython"))) {
    return ToolCallFormat::kLlama3Json;
  }
  return std::nullopt;
}

ToolCallParser::ToolCallParser(ToolCallFormat format, std::string id_prefix, size_t max_held_bytes)
    : format_(format),
      id_prefix_(std::move(id_prefix)),
      max_held_(max_held_bytes),
      state_(format == ToolCallFormat::kHermes ? State::kText : State::kStart),
      open_tag_(std::string(format == ToolCallFormat::kMistral ? kMistralOpen : kHermesOpen)),
      close_tag_(std::string(kHermesClose)) {}

ToolCallParserOutput ToolCallParser::push(std::string_view text) {
  for (const char c : text) feed(c);
  return std::exchange(out_, ToolCallParserOutput());
}

ToolCallParserOutput ToolCallParser::finish() {
  switch (state_) {
    case State::kText: {
      // A partial tag at the very end is text; whitespace after the last call is dropped.
      const std::string partial = open_tag_.take_held();
      if (!partial.empty()) out_.content += pending_ws_ + partial;
      pending_ws_.clear();
      break;
    }
    case State::kPassthrough:
    case State::kFinished:
      break;
    case State::kObject:
      if (call_open_) {
        close_call();
      } else {
        out_.content += held_;
      }
      break;
    case State::kAfterObject:
      // Hermes holds whitespace and a partial "</tool_call>" here: markup after a whole call.
      if (format_ == ToolCallFormat::kHermes) break;
      [[fallthrough]];
    default:
      // Separators after the block's last call are markup; without a call it was all text.
      if (calls_in_block_ == 0) out_.content += held_;
      break;
  }
  held_.clear();
  pending_ws_.clear();
  state_ = State::kFinished;
  return std::exchange(out_, ToolCallParserOutput());
}

bool ToolCallParser::holding() const {
  switch (state_) {
    case State::kStart:
    case State::kStartBracket:
    case State::kPythonTag:
    case State::kBeforeArray:
    case State::kBeforeObject:
      return true;
    case State::kObject:
      return !call_open_;
    case State::kAfterObject:
      return format_ != ToolCallFormat::kHermes;
    default:
      return false;
  }
}

ToolCallParser::State ToolCallParser::fallback_state() const {
  return format_ == ToolCallFormat::kLlama3Json ? State::kPassthrough : State::kText;
}

void ToolCallParser::feed(char c) {
  // The bound on held text is checked at a fixed byte of the text, so that where the deltas
  // were split cannot change the outcome.
  if (holding() && held_.size() >= max_held_) {
    fail(c);
    return;
  }
  switch (state_) {
    case State::kText:
      text_byte(c);
      return;
    case State::kPassthrough:
    case State::kFinished:
      out_.content += c;
      return;
    case State::kStart:
      if (is_ws(c)) {
        held_ += c;
      } else if (format_ == ToolCallFormat::kLlama3Json && c == '{') {
        begin_object(c);
      } else if (format_ == ToolCallFormat::kLlama3Json && c == kPythonTag.front()) {
        held_ += c;
        python_tag_pos_ = 1;
        state_ = State::kPythonTag;
      } else if (format_ == ToolCallFormat::kMistral && c == '[') {
        held_ += c;
        state_ = State::kStartBracket;
      } else {
        fail(c);
      }
      return;
    case State::kStartBracket:
      if (is_ws(c)) {
        held_ += c;
        state_ = State::kBeforeObject;
      } else if (c == '{') {
        begin_object(c);
      } else {
        // Not a bare array: the '[' may begin "[TOOL_CALLS]", so it is read again as text.
        held_.pop_back();
        out_.content += std::exchange(held_, std::string());
        state_ = State::kText;
        text_byte('[');
        text_byte(c);
      }
      return;
    case State::kPythonTag:
      if (c != kPythonTag[python_tag_pos_]) {
        fail(c);
        return;
      }
      held_ += c;
      if (++python_tag_pos_ == kPythonTag.size()) state_ = State::kBeforeObject;
      return;
    case State::kBeforeArray:
      if (is_ws(c) || c == '[') {
        held_ += c;
        if (c == '[') state_ = State::kBeforeObject;
      } else {
        fail(c);
      }
      return;
    case State::kBeforeObject:
      if (is_ws(c)) {
        held_ += c;
      } else if (c == '{') {
        begin_object(c);
      } else if (c == ']' && format_ == ToolCallFormat::kMistral && calls_in_block_ > 0) {
        end_block();  // a trailing comma before the array's end
      } else {
        fail(c);
      }
      return;
    case State::kObject:
      object_byte(c);
      return;
    case State::kAfterObject:
      after_object_byte(c);
      return;
  }
}

void ToolCallParser::text_byte(char c) {
  std::string released;
  const bool found = open_tag_.feed(c, released);
  for (const char r : released) release_text(r);
  if (found) start_block();
}

void ToolCallParser::release_text(char c) {
  // After a call, whitespace waits: dropped if a tag or the end follows, content otherwise.
  if (!calls_.empty() && is_ws(c)) {
    pending_ws_ += c;
    if (pending_ws_.size() < max_held_) return;
  }
  out_.content += std::exchange(pending_ws_, std::string());
  if (!is_ws(c) || calls_.empty()) out_.content += c;
}

void ToolCallParser::start_block() {
  // The whitespace before the tag comes back as content if no call follows it.
  held_ = std::exchange(pending_ws_, std::string());
  held_ += open_tag_.tag();
  calls_in_block_ = 0;
  state_ = format_ == ToolCallFormat::kHermes ? State::kBeforeObject : State::kBeforeArray;
}

void ToolCallParser::end_block() {
  held_.clear();
  pending_ws_.clear();
  close_tag_.take_held();
  calls_in_block_ = 0;
  state_ = format_ == ToolCallFormat::kLlama3Json ? State::kPassthrough : State::kText;
}

void ToolCallParser::begin_object(char c) {
  held_ += c;
  object_.reset();
  object_.feed(c);
  call_open_ = false;
  state_ = State::kObject;
}

void ToolCallParser::object_byte(char c) {
  const ToolCallObjectScanner::Event ev = object_.feed(c);
  if (ev.error) {
    if (!call_open_) {
      fail(c);
      return;
    }
    // The emitted call stays, with the arguments it got; the rest is read as text.
    close_call();
    held_.clear();
    calls_in_block_ = 0;
    state_ = fallback_state();
    feed(c);
    return;
  }
  if (!call_open_) held_ += c;
  if (ev.name) commit_call();
  if (call_open_) emit_arguments(object_.take_arguments());
  if (!ev.end) return;
  if (!call_open_) {
    fail(std::nullopt);  // an object without a name is not a call
    return;
  }
  close_call();
  held_.clear();
  state_ = State::kAfterObject;
}

void ToolCallParser::after_object_byte(char c) {
  if (format_ == ToolCallFormat::kHermes) {
    if (close_tag_.held().empty() && is_ws(c)) {
      release_text(c);
      return;
    }
    std::string released;
    if (close_tag_.feed(c, released)) {
      end_block();
    } else if (!released.empty()) {
      // Not "</tool_call>": the call stays and these bytes are read again as text (they may
      // open the next call).
      released += close_tag_.take_held();
      state_ = State::kText;
      for (const char r : released) text_byte(r);
    }
    return;
  }
  const char separator = format_ == ToolCallFormat::kLlama3Json ? ';' : ',';
  if (is_ws(c) || c == separator) {
    held_ += c;
    if (c == separator) state_ = State::kBeforeObject;
  } else if (c == '{' && format_ == ToolCallFormat::kLlama3Json) {
    begin_object(c);
  } else if (c == ']' && format_ == ToolCallFormat::kMistral) {
    end_block();
  } else {
    fail(c);
  }
}

void ToolCallParser::fail(std::optional<char> c) {
  out_.content += std::exchange(held_, std::string());
  calls_in_block_ = 0;
  call_open_ = false;
  state_ = fallback_state();
  if (c) feed(*c);
}

void ToolCallParser::commit_call() {
  const int index = static_cast<int>(calls_.size());
  calls_.push_back({id_prefix_ + std::to_string(index), object_.name(), ""});
  out_.tool_calls.push_back({index, calls_.back().id, calls_.back().name, ""});
  call_open_ = true;
  held_.clear();
  ++calls_in_block_;
}

void ToolCallParser::close_call() {
  if (!object_.arguments_started()) emit_arguments("{}");
  call_open_ = false;
}

void ToolCallParser::emit_arguments(std::string fragment) {
  if (fragment.empty()) return;
  const int index = static_cast<int>(calls_.size()) - 1;
  calls_.back().arguments += fragment;
  if (out_.tool_calls.empty() || out_.tool_calls.back().index != index) {
    out_.tool_calls.push_back({index, "", "", std::move(fragment)});
  } else {
    out_.tool_calls.back().arguments += fragment;
  }
}

ParsedToolCalls parse_tool_calls(ToolCallFormat format, std::string_view text,
                                 const std::string& id_prefix) {
  ToolCallParser parser(format, id_prefix);
  ParsedToolCalls result;
  result.content = parser.push(text).content;
  result.content += parser.finish().content;
  result.calls = parser.calls();
  return result;
}

}  // namespace llm
