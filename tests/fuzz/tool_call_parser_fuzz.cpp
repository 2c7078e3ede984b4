// Model output through ToolCallParser in pieces and through parse_tool_calls whole: the two
// must agree exactly (content, ids, names, arguments), the deltas must have the shape a client
// rebuilds calls from, and output with no call must come back as the content unchanged.
// Input: byte 0 picks the format and the held-text limit, byte 1 how the text is split (a seed
// and a largest piece size), the rest is the model's text.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "server/tool_call_parser.h"

namespace {

struct Result {
  std::string content;
  std::vector<llm::ToolCall> calls;
};

void take(const llm::ToolCallParserOutput& out, Result& r) {
  r.content += out.content;
  for (const llm::ToolCallDelta& d : out.tool_calls) {
    if (d.index == static_cast<int>(r.calls.size())) {
      if (d.id.empty() || d.name.empty()) std::abort();  // a call's first delta names it
      r.calls.push_back({d.id, d.name, d.arguments});
    } else if (d.index + 1 == static_cast<int>(r.calls.size())) {
      if (!d.id.empty() || !d.name.empty() || d.arguments.empty()) std::abort();
      r.calls.back().arguments += d.arguments;
    } else {
      std::abort();  // deltas out of order
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  constexpr llm::ToolCallFormat kFormats[] = {llm::ToolCallFormat::kHermes,
                                              llm::ToolCallFormat::kLlama3Json,
                                              llm::ToolCallFormat::kMistral};
  const llm::ToolCallFormat format = kFormats[data[0] % 3];
  // Small limits reach the "held too long" path with short inputs.
  constexpr size_t kLimits[] = {llm::ToolCallParser::kDefaultMaxHeldBytes,
                                llm::ToolCallParser::kDefaultMaxHeldBytes, 32, 300};
  const size_t max_held = kLimits[(data[0] / 3) % 4];
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);

  Result whole;
  llm::ToolCallParser one(format, "call_", max_held);
  take(one.push(text), whole);
  take(one.finish(), whole);
  if (max_held == llm::ToolCallParser::kDefaultMaxHeldBytes) {
    const llm::ParsedToolCalls parsed = llm::parse_tool_calls(format, text, "call_");
    if (parsed.content != whole.content || parsed.calls.size() != whole.calls.size()) std::abort();
  }

  std::minstd_rand rng(data[1] + 1u);
  std::uniform_int_distribution<size_t> piece(1, size_t{1} << (data[1] % 7));
  llm::ToolCallParser streaming(format, "call_", max_held);
  Result streamed;
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = std::min(piece(rng), text.size() - pos);
    take(streaming.push(text.substr(pos, n)), streamed);
    pos += n;
  }
  take(streaming.finish(), streamed);

  if (streamed.content != whole.content || streamed.calls.size() != whole.calls.size()) {
    std::abort();
  }
  for (size_t i = 0; i < whole.calls.size(); ++i) {
    const llm::ToolCall& a = whole.calls[i];
    const llm::ToolCall& b = streamed.calls[i];
    if (a.id != b.id || a.name != b.name || a.arguments != b.arguments) std::abort();
    if (a.id != "call_" + std::to_string(i)) std::abort();
    if (streaming.calls()[i].arguments != a.arguments) std::abort();
  }
  // Content is the text less the markup of calls: never more than the text.
  if (whole.content.size() > text.size()) std::abort();
  if (whole.calls.empty() && whole.content != text) std::abort();
  return 0;
}
