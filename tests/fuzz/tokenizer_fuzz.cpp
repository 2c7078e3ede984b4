// The bundled model's tokenizer on arbitrary bytes: encode (plain, with BOS/EOS, and with
// control tokens spelled out) and decode must accept any input, produce ids in the vocabulary,
// and the incremental detokenizer's deltas must add up to what decode gives for the whole.
// The second half of the input is also read as raw token ids (two bytes each, some out of
// range), streamed through the detokenizer after a prompt.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "llm/error.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using llm::TokenId;

void check_ids(const std::vector<TokenId>& ids, const llm::Tokenizer& tok) {
  for (const TokenId id : ids) {
    if (id < 0 || id >= tok.vocab_size()) std::abort();
  }
}

// Strict UTF-8 as SentencePiece decodes it: whether BYTES start (or, with `whole`, are
// exactly) one character. Written apart from the detokenizer's own rules, as the oracle.
bool utf8_character(const std::vector<int>& bytes, bool whole) {
  const int lead = bytes[0];
  size_t length = 0;
  int lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    lo = lead == 0xE0 ? 0xA0 : lo;
    hi = lead == 0xED ? 0x9F : hi;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    lo = lead == 0xF0 ? 0x90 : lo;
    hi = lead == 0xF4 ? 0x8F : hi;
  } else {
    return false;
  }
  if (whole ? bytes.size() != length : bytes.size() >= length) return false;
  for (size_t i = 1; i < bytes.size(); ++i) {
    if ((bytes[i] & 0xC0) != 0x80 || (i == 1 && (bytes[i] < lo || bytes[i] > hi))) return false;
  }
  return true;
}

// How many of the prompt's last ids are byte pieces of a character it leaves unfinished, and
// whether the output's first ids finish it.
std::pair<size_t, bool> unfinished_character(const llm::Tokenizer& tok,
                                             std::span<const TokenId> prompt,
                                             std::span<const TokenId> output) {
  for (size_t k = 1; k <= 3 && k <= prompt.size(); ++k) {
    const int b = tok.byte_value(prompt[prompt.size() - k]);
    if (b < 0) break;
    if ((b & 0xC0) == 0x80) continue;
    std::vector<int> bytes;
    for (size_t i = prompt.size() - k; i < prompt.size(); ++i)
      bytes.push_back(tok.byte_value(prompt[i]));
    if (!utf8_character(bytes, false)) break;
    for (size_t i = 0; i < output.size() && bytes.size() < 4; ++i) {
      if (tok.byte_value(output[i]) < 0) break;
      bytes.push_back(tok.byte_value(output[i]));
      if (utf8_character(bytes, true)) return {k, true};
      if (!utf8_character(bytes, false)) break;
    }
    return {k, false};
  }
  return {0, false};
}

// Streams `output` after `prompt` and checks the deltas against one decode of everything:
// they are what the prompt's text is followed by, except that a character the prompt leaves
// unfinished and the output finishes comes out whole (tokenizer.h).
void stream(const llm::Tokenizer& tok, std::span<const TokenId> prompt,
            std::span<const TokenId> output) {
  llm::IncrementalDetokenizer detok(tok, prompt);
  std::string streamed;
  for (const TokenId id : output) streamed += detok.push(id);
  streamed += detok.flush();
  std::vector<TokenId> all(prompt.begin(), prompt.end());
  all.insert(all.end(), output.begin(), output.end());
  const std::string whole = tok.decode(all);
  const auto [held, finished] = unfinished_character(tok, prompt, output);
  const std::string before = tok.decode(prompt.first(prompt.size() - (finished ? held : 0)));
  if (whole.compare(0, before.size(), before) != 0) std::abort();
  if (streamed != whole.substr(before.size())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const llm::Tokenizer& tok = llm::fuzz::tokenizer();
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const std::vector<TokenId> plain = tok.encode(text, false);
  const std::vector<TokenId> special = tok.encode(text, true);
  const std::vector<TokenId> control = tok.encode_with_special_tokens(text);
  check_ids(plain, tok);
  check_ids(special, tok);
  check_ids(control, tok);
  tok.decode(plain);
  tok.decode(control);
  for (const TokenId id : plain) tok.id_to_piece(id);
  const size_t half = plain.size() / 2;
  stream(tok, std::span(plain).first(half), std::span(plain).subspan(half));
  stream(tok, {}, special);

  // Raw ids: the detokenizer must hold back exactly the incomplete UTF-8 tails that byte
  // pieces can produce, which ordinary text rarely encodes to.
  const int vocab = tok.vocab_size();
  std::vector<TokenId> ids;
  for (size_t i = 0; i + 1 < size; i += 2) {
    ids.push_back(static_cast<TokenId>((data[i] | data[i + 1] << 8) % (vocab + 8)));
  }
  bool in_range = true;
  for (const TokenId id : ids) in_range = in_range && id < vocab;
  const size_t split = ids.empty() ? 0 : data[0] % (ids.size() + 1);
  try {
    stream(tok, std::span(ids).first(split), std::span(ids).subspan(split));
    if (!in_range) std::abort();  // an id past the vocabulary must be refused
  } catch (const llm::Error& e) {
    if (in_range || e.code() != llm::ErrorCode::kInvalidArgument) std::abort();
  }
  return 0;
}
