// A random template and random messages through ChatTemplate::compile and render with the
// limits the server uses. The input is "<template>\0<inputs>", inputs being a JSON list of
// messages or an object {"messages", "tools", "add_generation_prompt", "bos_token",
// "eos_token"}; inputs that are not JSON render a fixed conversation, so mutations of the
// template alone still reach the interpreter. Compile may only fail with llm::Error and
// render with ChatTemplateError; the render bounds (steps, output, depth, list sizes) must
// keep every input within the fuzzer's time and memory limits.
// The limits are the defaults scaled down 16-100x, depth excepted (it guards the stack, so the
// real one is kept): a render at the default limits may take two seconds and hold a gigabyte
// in a Release build, which under ASan is past any useful fuzzing timeout. What is checked is
// that every kind of work is metered, so a render finishes within its budget whatever it does.
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.h"
#include "tokenizer/chat_template.h"

namespace {

using ojson = nlohmann::ordered_json;

const ojson& default_messages() {
  static const ojson messages = ojson::parse(R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "What is 2+2?"}])");
  return messages;
}

llm::ChatTemplate::Inputs inputs_from(std::string_view text) {
  llm::ChatTemplate::Inputs in;
  in.limits.max_output_bytes = 64 << 10;
  in.limits.max_loop_iterations = 10'000;
  in.limits.max_list_items = 10'000;
  in.limits.max_steps = 200'000;
  in.messages = default_messages();
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  const ojson j = ojson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_array()) {
    in.messages = j;
  } else if (j.is_object()) {
    if (auto it = j.find("messages"); it != j.end()) in.messages = *it;
    if (auto it = j.find("tools"); it != j.end()) in.tools = *it;
    if (auto it = j.find("add_generation_prompt"); it != j.end() && it->is_boolean()) {
      in.add_generation_prompt = it->get<bool>();
    }
    for (const char* name : {"bos_token", "eos_token"}) {
      auto it = j.find(name);
      if (it == j.end()) continue;
      auto& token = std::string_view(name) == "bos_token" ? in.bos_token : in.eos_token;
      if (it->is_string())
        token = it->get<std::string>();
      else
        token.reset();
    }
  }
  return in;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [source, inputs] = llm::fuzz::split(data, size, std::string_view("\0", 1));
  std::optional<llm::ChatTemplate> tmpl;
  try {
    tmpl.emplace(llm::ChatTemplate::compile(source));
  } catch (const llm::Error&) {
    return 0;
  }
  const llm::ChatTemplate::Inputs in = inputs_from(inputs);
  try {
    tmpl->render(in);
  } catch (const llm::ChatTemplateError&) {
  }
  return 0;
}
