// Byte-level BPE (tokenizer.json) works the same way on the bytes its tokens stand for: decoding
// joins them and reads the result as UTF-8 with Rust's from_utf8_lossy, which replaces the same
// maximal invalid subparts; special tokens are skipped without ending a run (kTransparent), and
// a token may hold several bytes, so the held-back tail starts at the token holding the lead
// byte. Tokenizer::token_bytes says which ids are bytes.
// How SentencePiece decodes (checked against libsentencepiece 0.1.97 with both test models):
//  - control pieces (<s>, </s>) decode to nothing and leave everything else as it is, except
//    that they end a run of byte pieces: [<0xC3>, <s>, <0xA9>] decodes to two U+FFFD;
//  - the leading "▁" of the first piece that is not a control piece is dropped (the dummy
//    prefix); a byte piece or <unk> in that position uses up the chance;
//  - a maximal run of byte pieces is decoded as UTF-8, left to right: a valid character is
//    emitted whole, any other byte becomes one U+FFFD. Since a character never contains a lead
//    byte after its first byte, this is local: only a lead byte whose bytes so far are a proper
//    prefix of a valid character can still change when more bytes arrive.
// So the text of ids[0:n] is a prefix of the text of every longer sequence unless ids[0:n] ends
// with such an incomplete character; push() holds exactly those (at most three) bytes back.
// Decoding a window that starts at an earlier emission point gives the same text for the new
// ids as decoding everything, provided the window's first non-control piece is the sequence's
// (so the dummy-prefix space is dropped in the same place); the offsets below keep a non-control
// piece in [prefix_offset_, read_offset_) whenever the sequence has one before read_offset_.
#include <algorithm>

#include "llm/error.h"
#include "tokenizer/tokenizer.h"

namespace llm {
namespace {

// Prompt tokens decoded along with the first generated token (as vLLM does); one non-control
// piece would suffice for SentencePiece, the margin costs nothing.
constexpr size_t kPromptContext = 5;
// Tokens before the window are dropped once this many have accumulated.
constexpr size_t kCompactThreshold = 64;

bool is_continuation(int byte) {
  return (byte & 0xC0) == 0x80;
}

// The length of the UTF-8 character that BYTES[0, count) begin, when they are the start of one
// that SentencePiece would accept (no overlong forms, surrogates or code points past U+10FFFF,
// matching its DecodeUTF8); else 0.
size_t character_length(const int* bytes, size_t count) {
  const int lead = bytes[0];
  size_t length = 0;
  int second_min = 0x80;
  int second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // below is overlong
    if (lead == 0xED) second_max = 0x9F;  // above is a surrogate
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // below is overlong
    if (lead == 0xF4) second_max = 0x8F;  // above is past U+10FFFF
  } else {
    return 0;  // ASCII, or a byte that never starts a valid character
  }
  for (size_t i = 1; i < count && i < length; ++i) {
    if (!is_continuation(bytes[i])) return 0;
  }
  if (count >= 2 && (bytes[1] < second_min || bytes[1] > second_max)) return 0;
  return length;
}

// Whether BYTES (starting with a lead byte, at most three long) are a proper prefix of a
// character.
bool is_incomplete_character(const int* bytes, size_t count) {
  return count < character_length(bytes, count);
}

// The first bytes of the run of byte tokens IDS start with (transparent tokens skipped), at most
// four; COUNT is how many. OWNER, when given, receives the index in IDS of each byte's token.
void leading_bytes(const Tokenizer& tok, std::span<const TokenId> ids, int* bytes, size_t* count) {
  *count = 0;
  for (size_t i = 0; i < ids.size() && *count < 4; ++i) {
    const TokenBytes tb = tok.token_bytes(ids[i]);
    if (tb.kind == TokenBytes::kTransparent) continue;
    if (tb.kind == TokenBytes::kText) break;
    for (size_t j = 0; j < tb.bytes.size() && *count < 4; ++j) {
      bytes[(*count)++] = static_cast<unsigned char>(tb.bytes[j]);
    }
  }
}

// Whether IDS start with byte tokens that spell one whole multi-byte character.
bool starts_with_character(const Tokenizer& tok, std::span<const TokenId> ids) {
  int bytes[4];
  size_t count = 0;
  leading_bytes(tok, ids, bytes, &count);
  if (count == 0) return false;
  const size_t length = character_length(bytes, count);
  return length != 0 && count >= length;
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer,
                                               std::span<const TokenId> prompt_ids)
    : tokenizer_(&tokenizer) {
  const size_t n = prompt_ids.size();
  for (const TokenId id : prompt_ids) {
    if (!tokenizer.decodable(id)) {
      throw Error(ErrorCode::kInvalidArgument, "prompt token id " + std::to_string(id) +
                                                   " is out of range [0, " +
                                                   std::to_string(tokenizer.vocab_size()) + ")");
    }
  }
  size_t start = n > kPromptContext ? n - kPromptContext : 0;
  // A prompt tail of control tokens only would let the window drop a space that the full
  // decode keeps, so reach back to the last visible piece.
  auto has_visible = [&](size_t from) {
    return std::any_of(prompt_ids.begin() + static_cast<std::ptrdiff_t>(from), prompt_ids.end(),
                       [&](TokenId id) { return !tokenizer.is_control(id); });
  };
  if (!has_visible(start)) {
    while (start > 0 && tokenizer.is_control(prompt_ids[start - 1])) --start;
    if (start > 0) --start;
  }
  for (size_t i = start; i < n; ++i) {
    // Same collapsing of control runs as push().
    const TokenId id = prompt_ids[i];
    if (tokenizer.is_control(id) && !ids_.empty() && tokenizer.is_control(ids_.back())) continue;
    ids_.push_back(id);
  }
  prefix_offset_ = 0;
  read_offset_ = ids_.size();
}

std::string IncrementalDetokenizer::push(TokenId id) {
  if (!tokenizer_->decodable(id)) {
    throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) +
                                                 " is out of range [0, " +
                                                 std::to_string(tokenizer_->vocab_size()) + ")");
  }
  // A second control token in a row changes no decoded text (one already ends a byte run);
  // dropping it keeps the window short when a model emits many of them.
  if (tokenizer_->is_control(id) && !ids_.empty() && tokenizer_->is_control(ids_.back())) {
    return {};
  }
  ids_.push_back(id);
  return emit_until(stable_end(ids_.size()));
}

std::string IncrementalDetokenizer::flush() {
  return emit_until(ids_.size());
}

size_t IncrementalDetokenizer::stable_end(size_t n) const {
  // Only the last lead byte of a trailing byte run can belong to an unfinished character, and
  // an unfinished character has at most three bytes. Collect the run's last bytes, newest
  // first, with the index of the token each came from (a byte-level token holds several).
  int bytes[3];
  size_t owner[3];
  size_t count = 0;
  for (size_t k = n; k > 0 && count < 3; --k) {
    const TokenBytes tb = tokenizer_->token_bytes(ids_[k - 1]);
    if (tb.kind == TokenBytes::kTransparent) continue;
    if (tb.kind == TokenBytes::kText) break;
    for (size_t j = tb.bytes.size(); j > 0 && count < 3; --j) {
      bytes[count] = static_cast<unsigned char>(tb.bytes[j - 1]);
      owner[count++] = k - 1;
    }
  }
  for (size_t back = 1; back <= count; ++back) {
    if (is_continuation(bytes[back - 1])) continue;
    int forward[3];
    for (size_t i = 0; i < back; ++i) forward[i] = bytes[back - 1 - i];
    if (!is_incomplete_character(forward, back)) return n;
    // Hold back from the token that holds the lead byte (and any text before it in that
    // token: a token is emitted whole or not at all). The bytes before that token may end
    // inside a character in turn (a byte-level token can start with the end of one), so cut
    // again there.
    return owner[back - 1] < n ? stable_end(owner[back - 1]) : n;
  }
  return n;
}

std::string IncrementalDetokenizer::emit_until(size_t end) {
  if (end <= read_offset_) return {};
  const std::span<const TokenId> all(ids_);
  // The text so far may end inside a character (a prompt cut there, or flush() gave out its
  // bytes as U+FFFD). When the new ids complete it, the delta restarts at that character. This
  // is decided on the ids: the completed character may itself be U+FFFD, and then the texts
  // agree where they should not.
  size_t shown = read_offset_;
  const size_t tail = std::max(stable_end(read_offset_), prefix_offset_);
  if (tail < read_offset_ && starts_with_character(*tokenizer_, all.subspan(tail, end - tail))) {
    shown = tail;
  }
  const std::string prefix_text =
      tokenizer_->decode(all.subspan(prefix_offset_, shown - prefix_offset_));
  const std::string new_text =
      tokenizer_->decode(all.subspan(prefix_offset_, end - prefix_offset_));

  size_t common = prefix_text.size();
  if (new_text.compare(0, common, prefix_text) != 0) {
    // Only when the prompt (or the text before a flush()) ended inside a character that later
    // bytes completed: restart at the first character that differs rather than cut one in half.
    common = std::mismatch(prefix_text.begin(), prefix_text.end(), new_text.begin(), new_text.end())
                 .first -
             prefix_text.begin();
    while (common > 0 && common < new_text.size() &&
           is_continuation(static_cast<unsigned char>(new_text[common]))) {
      --common;
    }
  }
  std::string delta = new_text.substr(common);

  const bool visible = std::any_of(all.begin() + static_cast<std::ptrdiff_t>(read_offset_),
                                   all.begin() + static_cast<std::ptrdiff_t>(end),
                                   [&](TokenId id) { return !tokenizer_->is_control(id); });
  if (visible) prefix_offset_ = read_offset_;
  read_offset_ = end;

  if (prefix_offset_ >= kCompactThreshold) {
    ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_offset_));
    read_offset_ -= prefix_offset_;
    prefix_offset_ = 0;
  }
  return delta;
}

}  // namespace llm
