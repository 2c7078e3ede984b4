#include "server/tool_call_object_scanner.h"

#include <nlohmann/json.hpp>
#include <utility>

namespace llm {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// A JSON string's value from its raw text (quotes included); *ok is false on bad JSON.
// Only the name and keys are decoded, and both are short or bounded by the caller's hold.
std::string decode_string(const std::string& raw, bool* ok) {
  const nlohmann::json j = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
  *ok = j.is_string();
  return *ok ? j.get<std::string>() : std::string();
}

// Keys of interest are short; a longer key is read but not kept.
constexpr size_t kMaxKeyBytes = 32;

}  // namespace

void ToolCallObjectScanner::reset() {
  *this = ToolCallObjectScanner();
}

std::string ToolCallObjectScanner::take_arguments() {
  return std::exchange(args_, std::string());
}

void ToolCallObjectScanner::append(char c) {
  if (field_ == Field::kName) {
    name_raw_ += c;
  } else if (field_ == Field::kArguments) {
    args_ += c;
  }
}

ToolCallObjectScanner::Event ToolCallObjectScanner::feed(char c) {
  Event ev;
  switch (state_) {
    case State::kOpen:
      if (c == '{') {
        state_ = State::kKeyOrEnd;
      } else {
        ev.error = true;
      }
      return ev;
    case State::kKeyOrEnd:
      // Also after a comma: a trailing comma before '}' is accepted, as models write it.
      if (is_ws(c)) return ev;
      if (c == '}') {
        state_ = State::kDone;
        ev.end = true;
      } else if (c == '"') {
        key_ = "\"";
        key_long_ = false;
        escape_ = false;
        state_ = State::kKey;
      } else {
        ev.error = true;
      }
      return ev;
    case State::kKey:
      if (key_.size() < kMaxKeyBytes) {
        key_ += c;
      } else {
        key_long_ = true;
      }
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        bool ok = !key_long_;
        const std::string key = ok ? decode_string(key_, &ok) : std::string();
        if (key == "name" && name_raw_.empty()) {
          field_ = Field::kName;
        } else if ((key == "arguments" || key == "parameters") && !args_started_) {
          field_ = Field::kArguments;
        } else {
          field_ = Field::kOther;
        }
        state_ = State::kColon;
      }
      return ev;
    case State::kColon:
      if (is_ws(c)) return ev;
      if (c == ':') {
        state_ = State::kValueStart;
      } else {
        ev.error = true;
      }
      return ev;
    case State::kValueStart:
      if (is_ws(c)) return ev;
      return begin_value(c);
    case State::kValue:
      return value_byte(c);
    case State::kAfterValue:
      if (is_ws(c)) return ev;
      if (c == ',') {
        state_ = State::kKeyOrEnd;
      } else if (c == '}') {
        state_ = State::kDone;
        ev.end = true;
      } else {
        ev.error = true;
      }
      return ev;
    case State::kDone:
      break;
  }
  ev.error = true;
  return ev;
}

ToolCallObjectScanner::Event ToolCallObjectScanner::begin_value(char c) {
  Event ev;
  if (c == '}' || c == ']' || c == ',' || c == ':' || (field_ == Field::kName && c != '"')) {
    ev.error = true;  // no value, or a name that is not a string
    return ev;
  }
  in_string_ = c == '"';
  escape_ = false;
  scalar_ = !in_string_ && c != '{' && c != '[';
  brackets_.clear();
  if (c == '{' || c == '[') brackets_ += c;
  if (field_ == Field::kArguments) args_started_ = true;
  append(c);
  state_ = State::kValue;
  return ev;
}

ToolCallObjectScanner::Event ToolCallObjectScanner::value_byte(char c) {
  Event ev;
  if (in_string_) {
    append(c);
    if (escape_) {
      escape_ = false;
    } else if (c == '\\') {
      escape_ = true;
    } else if (c == '"') {
      in_string_ = false;
      if (brackets_.empty()) return end_value();
    }
    return ev;
  }
  if (scalar_) {
    // A number, true, false or null ends at the byte after it, which belongs to the object.
    if (is_ws(c) || c == ',' || c == '}' || c == ']') {
      Event done = end_value();
      if (done.error) return done;
      return feed(c);
    }
    if (c == '"' || c == '{' || c == '[' || c == ':') {
      ev.error = true;
    } else {
      append(c);
    }
    return ev;
  }
  if (c == '}' || c == ']') {
    if (brackets_.back() != (c == '}' ? '{' : '[')) {
      ev.error = true;
      return ev;
    }
    brackets_.pop_back();
    append(c);
    if (brackets_.empty()) return end_value();
    return ev;
  }
  if (c == '{' || c == '[') {
    if (brackets_.size() >= kMaxDepth) {
      ev.error = true;
      return ev;
    }
    brackets_ += c;
  } else if (c == '"') {
    in_string_ = true;
  }
  append(c);
  return ev;
}

ToolCallObjectScanner::Event ToolCallObjectScanner::end_value() {
  Event ev;
  state_ = State::kAfterValue;
  if (field_ == Field::kName) {
    bool ok = false;
    name_ = decode_string(name_raw_, &ok);
    // An empty name cannot be called: the object is not a tool call.
    if (!ok || name_.empty()) {
      ev.error = true;
      return ev;
    }
    ev.name = true;
  }
  field_ = Field::kOther;
  return ev;
}

}  // namespace llm
