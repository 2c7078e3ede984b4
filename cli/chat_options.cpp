#include "cli/chat_options.h"

#include "llm/error.h"
#include "tokenizer/chat_template_source.h"

namespace po = boost::program_options;

namespace llm {

void add_chat_options(po::options_description& d, ChatFlags& f) {
  d.add_options()("chat-template", po::value(&f.template_path),
                  "FILE holding a Jinja chat template to use instead of the model's")(
      "tool-call-parser", po::value(&f.tool_call_parser),
      "how tool calls are read from chat output: hermes | llama3_json | mistral (default: "
      "detected from the chat template)")(
      "reasoning-parser", po::value(&f.reasoning_parser),
      "split <think> text into reasoning_content: deepseek_r1 | qwen3 (default: none)");
}

void check_chat_flags(ChatFlags& f) {
  if (!f.template_path.empty()) {
    try {
      f.options.chat_template = load_chat_template_file(f.template_path);
    } catch (const Error& e) {
      // A bad file is a bad flag: the same exit code and usage text as any other.
      throw po::error(std::string("--chat-template: ") + e.what());
    }
  }
  if (!f.tool_call_parser.empty()) {
    f.options.tool_call_format = tool_call_format_from_name(f.tool_call_parser);
    if (!f.options.tool_call_format) {
      throw po::error("--tool-call-parser must be hermes, llama3_json or mistral, not '" +
                      f.tool_call_parser + "'");
    }
  }
  if (!f.reasoning_parser.empty()) {
    f.options.reasoning_format = reasoning_format_from_name(f.reasoning_parser);
    if (!f.options.reasoning_format) {
      throw po::error("--reasoning-parser must be deepseek_r1 or qwen3, not '" +
                      f.reasoning_parser + "'");
    }
  }
}

}  // namespace llm
