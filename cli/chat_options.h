// The chat flags of llm-serve and llm-batch, as vLLM spells them: --chat-template FILE (the
// file's Jinja text replaces the checkpoint's template), --tool-call-parser NAME (how tool calls
// are read from the output; default: detected from the template) and --reasoning-parser NAME
// (how "<think>" text is split off). The template file is read and compiled while the flags are
// checked, so a bad flag stops the program before the model loads.
#pragma once

#include <boost/program_options.hpp>
#include <string>

#include "server/chat_options.h"

namespace llm {

struct ChatFlags {
  std::string template_path;     // empty: the checkpoint's template
  std::string tool_call_parser;  // empty: detected from the template
  std::string reasoning_parser;  // empty: none
  ChatOptions options;           // what they say, once check_chat_flags has run
};

void add_chat_options(boost::program_options::options_description& d, ChatFlags& f);

// Reads and compiles the template file and resolves the parser names. Throws
// boost::program_options::error naming the flag (a missing, unreadable, empty or not
// compiling file; an unknown parser).
void check_chat_flags(ChatFlags& f);

}  // namespace llm
