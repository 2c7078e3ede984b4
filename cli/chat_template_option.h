// --chat-template FILE for llm-serve and llm-batch (vLLM's flag: the file's text is the Jinja
// template, replacing the checkpoint's). The file is read and compiled while the flags are
// checked, so a bad file stops the program before the model loads, as any bad flag does.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>

namespace llm {

struct ChatTemplateFlag {
  std::string path;                   // empty: the checkpoint's template
  std::optional<std::string> source;  // the file's text, once check_chat_template_flag has run
};

void add_chat_template_option(boost::program_options::options_description& d, ChatTemplateFlag& f);

// Reads and compiles the file when the flag was given. Throws boost::program_options::error
// naming the flag and the file (missing, unreadable, empty or not compiling).
void check_chat_template_flag(ChatTemplateFlag& f);

}  // namespace llm
