// Model output through ReasoningParser in pieces and through parse_reasoning whole: the two
// must agree exactly. Only the tags (and whitespace before a leading "<think>") are dropped, so
// the reasoning and content together are never longer than the text.
// Input: byte 0 picks the format, byte 1 how the text is split, the rest is the model's text.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string_view>

#include "server/reasoning_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const llm::ReasoningFormat format =
      data[0] % 2 ? llm::ReasoningFormat::kQwen3 : llm::ReasoningFormat::kDeepSeekR1;
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  const llm::ReasoningParserOutput whole = llm::parse_reasoning(format, text);

  std::minstd_rand rng(data[1] + 1u);
  std::uniform_int_distribution<size_t> piece(1, size_t{1} << (data[1] % 7));
  llm::ReasoningParser parser(format);
  llm::ReasoningParserOutput streamed;
  auto take = [&](const llm::ReasoningParserOutput& out) {
    streamed.reasoning += out.reasoning;
    streamed.content += out.content;
  };
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = std::min(piece(rng), text.size() - pos);
    take(parser.push(text.substr(pos, n)));
    pos += n;
  }
  take(parser.finish());
  if (streamed.reasoning != whole.reasoning || streamed.content != whole.content) std::abort();
  if (whole.reasoning.size() + whole.content.size() > text.size()) std::abort();
  return 0;
}
