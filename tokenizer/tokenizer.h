// Text <-> token ids through a SentencePiece model, with BOS/EOS handling from
// tokenizer_config.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace llm {

using TokenId = int32_t;

class Tokenizer {
 public:
  // Loads DIR/tokenizer.model and reads add_bos_token / add_eos_token (defaults: true / false,
  // as LlamaTokenizer) from DIR/tokenizer_config.json when present. Throws llm::Error naming
  // the file (kNotFound when tokenizer.model is missing, kCorruptFile when it does not parse).
  static Tokenizer load(const std::filesystem::path& model_dir);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Encodes `text`; with add_special_tokens, prepends BOS / appends EOS as the config says.
  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens = true) const;
  // Encodes text in which control tokens may appear literally ("<s>...</s>", as chat templates
  // write them): each occurrence becomes that token's id, the text between is encoded normally.
  // Adds no BOS/EOS of its own.
  std::vector<TokenId> encode_with_special_tokens(std::string_view text) const;
  // Decodes ids exactly as SentencePiece does (control tokens vanish, byte pieces become bytes).
  std::string decode(std::span<const TokenId> ids) const;
  std::string id_to_piece(TokenId id) const;

  int vocab_size() const;
  TokenId bos_id() const;  // -1 when the model has none
  TokenId eos_id() const;
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }

  // What the streaming detokenizer needs to predict SentencePiece's decode. Both answer
  // false / -1 for ids outside [0, vocab_size()).
  bool is_control(TokenId id) const;  // decodes to nothing (<s>, </s>)
  int byte_value(TokenId id) const;   // 0..255 for byte-fallback pieces <0xNN>, else -1

 private:
  Tokenizer();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  // Per id: the byte value of a byte-fallback piece, -2 for a control piece, -1 otherwise.
  std::vector<int16_t> piece_class_;
  bool add_bos_ = true;
  bool add_eos_ = false;
  std::vector<std::pair<std::string, TokenId>> control_pieces_;  // (piece text, id), longest first
};

// Turns a growing token list into text deltas as tokens arrive, so that concatenated deltas
// equal decode(prompt + output) minus decode(prompt). Never emits a partial UTF-8 character
// (incomplete byte-fallback sequences are held back) and keeps SentencePiece's leading-space
// handling right by decoding a short window that starts a few tokens back.
// The tokenizer must outlive the detokenizer (and must not be moved from meanwhile).
// If the prompt itself ends with an incomplete byte sequence that the output completes,
// decode(prompt) shows those bytes as U+FFFD each; the first delta then starts at the
// completed character (even when that is U+FFFD and the texts happen to agree).
class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, std::span<const TokenId> prompt_ids);
  // Appends one generated token and returns the text it completes (possibly empty). Throws
  // kInvalidArgument for an id outside the vocabulary.
  std::string push(TokenId id);
  // Text held back at the end of the stream (an incomplete UTF-8 tail), decoded as-is.
  std::string flush();

 private:
  // ids_[0, n) without its trailing incomplete character, if any.
  size_t stable_end(size_t n) const;
  std::string emit_until(size_t end);

  const Tokenizer* tokenizer_;
  // The tail of prompt + output that is still needed: ids_[0] is not the sequence start
  // once the window has moved on (or when the prompt was long).
  std::vector<TokenId> ids_;
  size_t prefix_offset_ = 0;  // window start: decoded text before read_offset_ is already emitted
  size_t read_offset_ = 0;
};

}  // namespace llm
