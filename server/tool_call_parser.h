// Tool calls in a model's generated text, for OpenAI chat responses: message.tool_calls (whole
// text) and delta.tool_calls (streaming). ToolCallParser reads the text as it is generated (in
// deltas split anywhere, down to single bytes), releases plain content as soon as it cannot be
// part of a call, emits a call's id and name as soon as its "name" string closes and its
// arguments as their text arrives. parse_tool_calls is the same parser over the whole text, so
// streaming and non-streaming responses agree for every split of the same text.
//
// What a call is, per format (the control tokens may be missing when decoding dropped them):
//   hermes       <tool_call>{"name": ..., "arguments": ...}</tool_call>, several in a row;
//                text before the first is content; a final </tool_call> may be missing.
//   llama3_json  the output (after leading whitespace) is [<|python_tag|>] {"name": ...,
//                "parameters": ...}, calls separated by ';' or whitespace; otherwise it is
//                all content.
//   mistral      [TOOL_CALLS][{"name": ..., "arguments": ...}, ...], or the bare array at the
//                start of the output; text before [TOOL_CALLS] is content.
// A call's arguments are the verbatim source text of its "arguments" ("parameters") value,
// "{}" when it has none.
//
// Text that looks like a call but turns out not to be one before its name is complete (no
// '{', JSON broken before or around the name, no name, an empty or non-string name, an object
// that ends without a name) is content, byte for byte as written, and reading goes on after
// it as plain text (hermes, mistral) or as content to the end (llama3_json). Once a call's name
// is complete the call is emitted and stays: if its JSON breaks later, or the output ends
// inside it, the call keeps the arguments received up to there ("{}" if its arguments never
// began) and the text from the offending byte on is read as plain text (hermes, mistral) or
// content (llama3_json). Whitespace and separators between calls, the closing tags, and
// whitespace after the last call are dropped; with no call in the output, the content is the
// output unchanged.
//
// Text is held back only while it may still be markup of a call, and never more than
// max_held_bytes: a candidate call that has not named itself by then is content.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/tag_scanner.h"
#include "server/tool_call_object_scanner.h"

namespace llm {

enum class ToolCallFormat { kHermes, kLlama3Json, kMistral };

// "hermes" | "llama3_json" | "mistral" -> format; else nullopt.
std::optional<ToolCallFormat> tool_call_format_from_name(std::string_view name);
std::string_view tool_call_format_name(ToolCallFormat f);
// The format a chat template's source writes tool calls in (nullopt: none of these): "<tool_call>"
// -> hermes (Qwen2.5, Qwen3, Hermes), "[TOOL_CALLS]" -> mistral, Llama 3.1+ templates
// ("<|python_tag|>", or "\"parameters\"" with "<|eom_id|>", "<|eot_id|>" or
// "Environment: ipython") -> llama3_json.
std::optional<ToolCallFormat> detect_tool_call_format(std::string_view chat_template_source);

// One entry of delta.tool_calls.
struct ToolCallDelta {
  int index = 0;
  std::string id, name;   // set on a call's first delta only (empty afterwards)
  std::string arguments;  // a fragment of the arguments string (may be empty)
};

struct ToolCallParserOutput {
  std::string content;  // plain content text released by this push
  // At most one entry per call, in call order; a call's first entry carries its id and name.
  std::vector<ToolCallDelta> tool_calls;
};

struct ToolCall {
  std::string id, name, arguments;
};

class ToolCallParser {
 public:
  static constexpr size_t kDefaultMaxHeldBytes = 256 * 1024;

  // Ids are id_prefix + the call's index ("call_<something>_0", ...), unique within a response.
  ToolCallParser(ToolCallFormat format, std::string id_prefix,
                 size_t max_held_bytes = kDefaultMaxHeldBytes);

  ToolCallParserOutput push(std::string_view text);
  // End of generation: releases held text. Text pushed after it is content.
  ToolCallParserOutput finish();
  // The calls emitted so far (a call still being read has the arguments received so far).
  const std::vector<ToolCall>& calls() const { return calls_; }
  bool has_calls() const { return !calls_.empty(); }

 private:
  enum class State {
    kText,          // content, looking for the opening tag (hermes, mistral)
    kPassthrough,   // llama3_json: the rest of the output is content
    kStart,         // llama3_json, mistral: leading whitespace of the output
    kStartBracket,  // mistral: '[' at the start, a bare array or "[TOOL_CALLS]"
    kPythonTag,     // llama3_json: inside "<|python_tag|>" at the start
    kBeforeArray,   // mistral: after "[TOOL_CALLS]"
    kBeforeObject,  // before a call's '{'
    kObject,        // inside a call's object
    kAfterObject,   // after a call's '}': "</tool_call>", ';' or ',' / ']'
    kFinished,
  };

  void feed(char c);
  bool holding() const;
  void text_byte(char c);
  void release_text(char c);
  void start_block();
  void end_block();
  void begin_object(char c);
  void object_byte(char c);
  void after_object_byte(char c);
  // What was held is content; reading goes on from `c` (if any) as text.
  void fail(std::optional<char> c);
  void commit_call();
  void close_call();
  void emit_arguments(std::string fragment);
  State fallback_state() const;

  ToolCallFormat format_;
  std::string id_prefix_;
  size_t max_held_;
  State state_;
  TagScanner open_tag_;   // "<tool_call>" (hermes) / "[TOOL_CALLS]" (mistral)
  TagScanner close_tag_;  // "</tool_call>" (hermes)
  size_t python_tag_pos_ = 0;
  std::string held_;        // text since the last emitted call that may still be markup
  std::string pending_ws_;  // whitespace after a call, dropped before a tag or the end
  int calls_in_block_ = 0;  // calls emitted since the opening tag / start of the block
  bool call_open_ = false;  // an emitted call whose object is still being read
  ToolCallObjectScanner object_;
  std::vector<ToolCall> calls_;
  ToolCallParserOutput out_;  // what the current push() or finish() releases
};

struct ParsedToolCalls {
  std::string content;
  std::vector<ToolCall> calls;
};
// The whole text at once: exactly what the concatenated push()/finish() outputs give for any
// split of the same text.
ParsedToolCalls parse_tool_calls(ToolCallFormat format, std::string_view text,
                                 const std::string& id_prefix);

}  // namespace llm
