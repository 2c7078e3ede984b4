#include "tokenizer/tokenizer.h"

#include <system_error>

#include "llm/error.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/hf/hf_tokenizer.h"
#include "tokenizer/sentencepiece_backend.h"

namespace llm {

Tokenizer::Tokenizer(std::unique_ptr<TokenizerBackend> impl) : impl_(std::move(impl)) {
  anchor_ids_ = impl_->encode("a", /*add_special_tokens=*/false);
  anchor_text_ = impl_->decode(anchor_ids_);
}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::filesystem::path& model_dir) {
  // transformers' AutoTokenizer prefers the fast tokenizer (tokenizer.json) when both exist.
  std::error_code ec;
  if (std::filesystem::exists(model_dir / "tokenizer.json", ec)) {
    return Tokenizer(HfTokenizer::load(model_dir));
  }
  return Tokenizer(SentencePieceBackend::load(model_dir));
}

Tokenizer Tokenizer::from_gguf(const GgufVocab& vocab) {
  return Tokenizer(make_gguf_backend(vocab));
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return impl_->encode(text, add_special_tokens);
}

std::vector<TokenId> Tokenizer::encode_with_special_tokens(std::string_view text) const {
  return impl_->encode_with_special_tokens(text);
}

void Tokenizer::check_decodable(TokenId id) const {
  if (!impl_->decodable(id)) {
    throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) +
                                                 " is out of range [0, " +
                                                 std::to_string(vocab_size()) + ")");
  }
}

std::string Tokenizer::decode(std::span<const TokenId> ids) const {
  // SentencePiece dies on a protobuf CHECK for out-of-range ids instead of returning an error.
  for (const TokenId id : ids) check_decodable(id);
  return impl_->decode(ids);
}

std::string Tokenizer::id_to_piece(TokenId id) const {
  if (id < 0 || id >= vocab_size()) {
    // A padding id past a tokenizer.json vocabulary has no spelling; it decodes to nothing.
    check_decodable(id);
    return {};
  }
  return impl_->id_to_piece(id);
}

std::string Tokenizer::token_text(TokenId id, std::string* raw) const {
  // A model may pad its vocabulary past the tokenizer's (Qwen, Gemma): such ids have no text.
  if (id >= vocab_size()) {
    if (raw) raw->clear();
    return {};
  }
  check_decodable(id);
  if (is_control(id)) {
    std::string piece = impl_->id_to_piece(id);
    if (raw) *raw = piece;
    return piece;
  }
  std::vector<TokenId> ids = anchor_ids_;
  ids.push_back(id);
  const std::string both = impl_->decode(ids);
  // Decoders only ever change the start of a text (SentencePiece's dropped space, Strip), so
  // the anchor's text is a prefix; the fallback guards a tokenizer that normalizes "a" away.
  std::string text = both.starts_with(anchor_text_) ? both.substr(anchor_text_.size())
                                                    : impl_->decode(std::span(&id, 1));
  if (raw) {
    const TokenBytes tb = impl_->token_bytes(id);
    // A byte token's own bytes (one for a <0xNN> piece; a whole byte-level token, such as
    // " \xE2", otherwise); any other token's bytes are its text.
    *raw = tb.kind == TokenBytes::kBytes ? std::string(tb.bytes) : text;
  }
  return text;
}

int Tokenizer::vocab_size() const {
  return impl_->vocab_size();
}
TokenId Tokenizer::bos_id() const {
  return impl_->bos_id();
}
TokenId Tokenizer::eos_id() const {
  return impl_->eos_id();
}
bool Tokenizer::is_control(TokenId id) const {
  return id >= 0 && id < vocab_size() && impl_->is_control(id);
}
int Tokenizer::byte_value(TokenId id) const {
  if (id < 0 || id >= vocab_size()) return -1;
  return impl_->byte_value(id);
}

}  // namespace llm
