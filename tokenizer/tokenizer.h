// Text <-> token ids through the checkpoint's tokenizer: a Hugging Face tokenizer.json when the
// directory has one (as transformers' fast tokenizers choose), else a SentencePiece
// tokenizer.model; BOS/EOS handling from tokenizer_config.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tokenizer_backend.h"

namespace llm {

class Tokenizer {
 public:
  // Loads DIR/tokenizer.json when present (see hf/hf_tokenizer.h: BOS/EOS as transformers'
  // fast tokenizer decides them), else DIR/tokenizer.model, reading add_bos_token /
  // add_eos_token (defaults: true / false, as LlamaTokenizer) from DIR/tokenizer_config.json.
  // Throws llm::Error naming the file (kNotFound when neither file exists, kCorruptFile when it
  // does not parse, kUnsupported for a tokenizer.json feature not implemented here).
  static Tokenizer load(const std::filesystem::path& model_dir);
  // The tokenizer a GGUF file embeds, encoding and decoding as llama.cpp does with the same
  // metadata (gguf_tokenizer.h): "gpt2" vocabularies behave as the Hugging Face tokenizer of
  // their pre-tokenizer, "llama" ones as SentencePiece. BOS / EOS and whether encode() adds them
  // come from the vocabulary, with llama.cpp's defaults where it is silent. Throws llm::Error
  // (kUnsupported for a model or pre-tokenizer not implemented, kCorruptFile for an inconsistent
  // vocabulary).
  static Tokenizer from_gguf(const GgufVocab& vocab);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Encodes `text`; with add_special_tokens, prepends BOS / appends EOS as the config says.
  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens = true) const;
  // Encodes text in which control tokens may appear literally ("<s>...</s>", as chat templates
  // write them): each occurrence becomes that token's id, the text between is encoded normally.
  // Adds no BOS/EOS of its own.
  std::vector<TokenId> encode_with_special_tokens(std::string_view text) const;
  // Decodes ids exactly as SentencePiece does (control tokens vanish, byte pieces become bytes),
  // or as Hugging Face's decode(ids, skip_special_tokens=True) does. Throws kInvalidArgument for
  // an id that is not decodable().
  std::string decode(std::span<const TokenId> ids) const;
  // The vocabulary's spelling of ID (byte-level tokenizers spell a space "Ġ").
  std::string id_to_piece(TokenId id) const;
  // ID as text on its own, for logprobs: what decode() makes of it inside a sequence (so a
  // leading space stays, which SentencePiece's decode drops at the start of a text), a control
  // token as its piece ("<|eot_id|>", as vLLM's decode without skip_special_tokens), and a token
  // that holds only part of a UTF-8 character with U+FFFD for the partial bytes, as vLLM shows
  // it. RAW, when given, receives the token's own bytes (the partial character itself, which
  // OpenAI's logprob "bytes" field is for). Throws kInvalidArgument where decode() would.
  std::string token_text(TokenId id, std::string* raw = nullptr) const;

  int vocab_size() const;
  TokenId bos_id() const;  // -1 when the model has none
  TokenId eos_id() const;
  bool add_bos() const { return impl_->add_bos(); }
  bool add_eos() const { return impl_->add_eos(); }
  // Whether decode() and the detokenizer accept ID: [0, vocab_size()) for SentencePiece, every
  // id >= 0 for tokenizer.json (ids past its vocabulary decode to nothing, as in `tokenizers`:
  // checkpoints pad their vocabulary, and a sampled padding id must not end a stream).
  bool decodable(TokenId id) const { return impl_->decodable(id); }

  // What the streaming detokenizer needs to predict decode(). Both answer false / -1 for ids
  // outside [0, vocab_size()).
  bool is_control(TokenId id) const;  // decodes to nothing (<s>, </s>, special tokens)
  int byte_value(TokenId id) const;   // 0..255 for byte-fallback pieces <0xNN>, else -1
  // How ID's bytes join its neighbours' before UTF-8 decoding (tokenizer_backend.h).
  TokenBytes token_bytes(TokenId id) const { return impl_->token_bytes(id); }

 private:
  explicit Tokenizer(std::unique_ptr<TokenizerBackend> impl);
  void check_decodable(TokenId id) const;
  std::unique_ptr<TokenizerBackend> impl_;
  // Ids of "a" and their decoded text: token_text() decodes a token after them, so that the
  // token reads as it does inside a sequence.
  std::vector<TokenId> anchor_ids_;
  std::string anchor_text_;
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
