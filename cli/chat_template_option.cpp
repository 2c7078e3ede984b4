#include "cli/chat_template_option.h"

#include "llm/error.h"
#include "tokenizer/chat_template_source.h"

namespace po = boost::program_options;

namespace llm {

void add_chat_template_option(po::options_description& d, ChatTemplateFlag& f) {
  d.add_options()("chat-template", po::value(&f.path),
                  "FILE holding a Jinja chat template to use instead of the model's");
}

void check_chat_template_flag(ChatTemplateFlag& f) {
  if (f.path.empty()) return;
  try {
    f.source = load_chat_template_file(f.path);
  } catch (const Error& e) {
    // A bad file is a bad flag: the same exit code and usage text as any other.
    throw po::error(std::string("--chat-template: ") + e.what());
  }
}

}  // namespace llm
