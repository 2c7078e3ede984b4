// tokenizer.json parsing and the byte-level pipeline on arbitrary input. The first byte picks:
//  - even: the rest is a tokenizer.json document; it must load or throw llm::Error, and a
//    tokenizer that loads must encode, decode and stream a fixed text without crashing, with
//    every id in its vocabulary;
//  - odd: the rest is text for the real Llama 3 and Qwen2 tokenizers (tests/data): ids in the
//    vocabulary, decode and streaming agree (deltas add up to decode of the whole).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "llm/error.h"
#include "tokenizer/hf/hf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace {

using llm::TokenId;

const llm::Tokenizer& real(int which) {
  static const llm::Tokenizer llama3 =
      llm::Tokenizer::load(std::string(LLM_SOURCE_DIR) + "/tests/data/llama3-tokenizer");
  static const llm::Tokenizer qwen2 =
      llm::Tokenizer::load(std::string(LLM_SOURCE_DIR) + "/tests/data/qwen2-tokenizer");
  return which == 0 ? llama3 : qwen2;
}

template <class Tok>
void exercise(const Tok& tok, std::string_view text) {
  for (const bool special : {false, true}) {
    const std::vector<TokenId> ids = tok.encode(text, special);
    for (const TokenId id : ids) {
      if (id < 0 || id >= tok.vocab_size()) std::abort();
    }
    tok.decode(ids);
  }
}

void stream(const llm::Tokenizer& tok, const std::vector<TokenId>& ids) {
  llm::IncrementalDetokenizer detok(tok, {});
  std::string streamed;
  for (const TokenId id : ids) streamed += detok.push(id);
  streamed += detok.flush();
  if (streamed != tok.decode(ids)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    try {
      llm::HfPipeline p = llm::parse_tokenizer_json(std::string(rest), "fuzz.json");
      const llm::HfTokenizer tok(std::move(p), -1, -1);
      exercise(tok, "Hello world! 123 \xE4\xB8\xAD\xE6\x96\x87 <s>\n\t x");
    } catch (const llm::Error&) {
    }
    return 0;
  }
  for (int which = 0; which < 2; ++which) {
    const llm::Tokenizer& tok = real(which);
    exercise(tok, rest);
    stream(tok, tok.encode(rest, true));
    // Raw ids, some past the vocabulary (padding ids decode to nothing).
    std::vector<TokenId> ids;
    for (size_t i = 0; i + 2 < rest.size(); i += 3) {
      const auto v = static_cast<uint32_t>(static_cast<unsigned char>(rest[i]) |
                                           static_cast<unsigned char>(rest[i + 1]) << 8 |
                                           static_cast<unsigned char>(rest[i + 2]) << 16);
      ids.push_back(static_cast<TokenId>(v % static_cast<uint32_t>(tok.vocab_size() + 300)));
    }
    stream(tok, ids);
  }
  return 0;
}
