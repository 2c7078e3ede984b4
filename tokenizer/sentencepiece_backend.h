// The SentencePiece backend of llm::Tokenizer: DIR/tokenizer.model, with add_bos_token /
// add_eos_token from DIR/tokenizer_config.json (defaults true / false, as LlamaTokenizer).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer_backend.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace llm {

class SentencePieceBackend final : public TokenizerBackend {
 public:
  // Throws llm::Error naming the file (kNotFound when tokenizer.model is missing, kCorruptFile
  // when it does not parse).
  static std::unique_ptr<SentencePieceBackend> load(const std::filesystem::path& model_dir);
  // From a serialized ModelProto built in memory (a GGUF file's "llama" vocabulary, which carries
  // its BOS / EOS ids and flags itself: -1 for none). WHERE names the source in errors
  // (kCorruptFile when SentencePiece refuses the model).
  static std::unique_ptr<SentencePieceBackend> from_serialized_proto(std::string_view proto,
                                                                     const std::string& where,
                                                                     TokenId bos_id, TokenId eos_id,
                                                                     bool add_bos, bool add_eos);
  ~SentencePieceBackend() override;

  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens) const override;
  std::vector<TokenId> encode_with_special_tokens(std::string_view text) const override;
  std::string decode(std::span<const TokenId> ids) const override;
  std::string id_to_piece(TokenId id) const override;
  int vocab_size() const override;
  TokenId bos_id() const override;
  TokenId eos_id() const override;
  bool add_bos() const override { return add_bos_; }
  bool add_eos() const override { return add_eos_; }
  bool decodable(TokenId id) const override { return id >= 0 && id < vocab_size(); }
  bool is_control(TokenId id) const override;
  int byte_value(TokenId id) const override;
  TokenBytes token_bytes(TokenId id) const override;

 private:
  SentencePieceBackend();
  // Classifies the pieces of the loaded model; WHERE names it in errors.
  void index_pieces(const std::string& where);
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  // Per id: the byte value of a byte-fallback piece, -2 for a control piece, -1 otherwise.
  std::vector<int16_t> piece_class_;
  bool add_bos_ = true;
  bool add_eos_ = false;
  TokenId bos_id_ = -1;
  TokenId eos_id_ = -1;
  std::vector<std::pair<std::string, TokenId>> control_pieces_;  // (piece text, id), longest first
};

}  // namespace llm
