// The model behind llm::Tokenizer: SentencePiece (tokenizer.model) or a Hugging Face
// tokenizer.json. The facade (tokenizer.h) keeps the API the engine and server use; each backend
// answers with its own library's semantics.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llm {

using TokenId = int32_t;

// How one token takes part in decoding's UTF-8 assembly, for the streaming detokenizer: its raw
// bytes are joined with neighbouring byte tokens before being read as UTF-8 (kBytes), it ends
// such a run (kText), or decoding skips it without ending a run (kTransparent).
struct TokenBytes {
  enum Kind { kText, kBytes, kTransparent };
  Kind kind = kText;
  std::string_view bytes;  // kBytes only
};

class TokenizerBackend {
 public:
  virtual ~TokenizerBackend() = default;

  virtual std::vector<TokenId> encode(std::string_view text, bool add_special_tokens) const = 0;
  virtual std::vector<TokenId> encode_with_special_tokens(std::string_view text) const = 0;
  // Ids for which decodable() is false have been refused by the facade.
  virtual std::string decode(std::span<const TokenId> ids) const = 0;
  virtual std::string id_to_piece(TokenId id) const = 0;

  virtual int vocab_size() const = 0;
  virtual TokenId bos_id() const = 0;
  virtual TokenId eos_id() const = 0;
  virtual bool add_bos() const = 0;
  virtual bool add_eos() const = 0;

  // Whether decode() accepts ID. Hugging Face decodes ids past its vocabulary to nothing (models
  // pad their embedding tables past the tokenizer), SentencePiece refuses them.
  virtual bool decodable(TokenId id) const = 0;
  virtual bool is_control(TokenId id) const = 0;
  virtual int byte_value(TokenId id) const = 0;
  virtual TokenBytes token_bytes(TokenId id) const = 0;
};

}  // namespace llm
