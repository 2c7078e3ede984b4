// ToolCallObjectScanner: reads one tool call's JSON object, {"name": "...", "arguments": ...},
// a byte at a time, so that a streaming parser can emit the name as soon as its string closes
// and the arguments as their text arrives. The arguments value is kept as the exact source
// text (tracking only string/escape state and bracket nesting to find where it ends), so the
// streamed fragments and the whole-text result agree byte for byte. "parameters" (Llama 3.1) is
// read as "arguments"; other keys are skipped; a repeated key keeps its first value.
#pragma once

#include <cstddef>
#include <string>

namespace llm {

class ToolCallObjectScanner {
 public:
  // What one byte completed. On `error` the byte was not consumed (it does not belong to a call
  // object), so the caller can read it as something else.
  struct Event {
    bool error = false;
    bool name = false;  // the name string closed and decoded: name() is set
    bool end = false;   // the object's closing brace
  };

  // Deeper nesting than this is an error rather than memory proportional to the input.
  static constexpr size_t kMaxDepth = 512;

  // Starts a new object (the next byte must be '{').
  void reset();
  Event feed(char c);

  const std::string& name() const { return name_; }
  bool has_name() const { return !name_.empty(); }
  // Whether an arguments value began (an object without one gets "{}" from its caller).
  bool arguments_started() const { return args_started_; }
  // The argument text read since the last call.
  std::string take_arguments();

 private:
  enum class State { kOpen, kKeyOrEnd, kKey, kColon, kValueStart, kValue, kAfterValue, kDone };
  enum class Field { kName, kArguments, kOther };

  Event begin_value(char c);
  Event value_byte(char c);
  Event end_value();
  void append(char c);

  State state_ = State::kOpen;
  Field field_ = Field::kOther;
  std::string key_;        // the raw key string, quotes included (only its first bytes)
  bool key_long_ = false;  // longer than any key of interest
  std::string name_raw_;   // the raw name string, quotes included
  std::string name_;
  std::string args_;
  bool args_started_ = false;
  // The value being read: a string, a scalar (number, true, ...) or nested brackets.
  bool in_string_ = false;
  bool escape_ = false;
  bool scalar_ = false;
  std::string brackets_;  // the open '{' / '[' of the value, innermost last
};

}  // namespace llm
