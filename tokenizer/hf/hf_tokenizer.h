// A Hugging Face tokenizer.json behind llm::Tokenizer, giving the ids and text of the `tokenizers`
// library: encode(text, add_special_tokens) and decode(ids, skip_special_tokens=True).
// Implemented: the BPE model; the normalizers, pre-tokenizers, post-processors and decoders
// listed in hf_loader.cpp. Anything else fails at load with kUnsupported naming the feature and
// the file.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/hf/added_vocabulary.h"
#include "tokenizer/hf/bpe_model.h"
#include "tokenizer/hf/decoder.h"
#include "tokenizer/hf/normalizer.h"
#include "tokenizer/hf/post_processor.h"
#include "tokenizer/hf/pre_tokenizer.h"
#include "tokenizer/tokenizer_backend.h"

namespace llm {

// The parts of a tokenizer.json pipeline; any but the model may be null.
struct HfPipeline {
  std::unique_ptr<hf::Normalizer> normalizer;
  std::unique_ptr<hf::PreTokenizer> pre_tokenizer;
  std::unique_ptr<hf::BpeModel> model;
  std::unique_ptr<hf::PostProcessor> post_processor;
  std::unique_ptr<hf::Decoder> decoder;
  std::vector<hf::AddedToken> added_tokens;
  bool decoder_is_byte_level = false;  // for the streaming detokenizer's token_bytes
  bool decoder_has_byte_fallback = false;
  // Ids below this count belong to the vocabulary even where neither the model nor the added
  // tokens spell them (a GGUF vocabulary's unused padding tokens, which decode to nothing).
  int min_vocab_size = 0;
};

class HfTokenizer final : public TokenizerBackend {
 public:
  // Reads MODEL_DIR/tokenizer.json and MODEL_DIR/tokenizer_config.json (bos_token, eos_token,
  // and add_bos_token / add_eos_token for the classes whose fast tokenizer honours them).
  static std::unique_ptr<HfTokenizer> load(const std::filesystem::path& model_dir);
  // From parts already built (tests; a GGUF file's embedded tokenizer). BOS / EOS ids: -1 none.
  HfTokenizer(HfPipeline pipeline, TokenId bos_id, TokenId eos_id);

  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens) const override;
  std::vector<TokenId> encode_with_special_tokens(std::string_view text) const override;
  std::string decode(std::span<const TokenId> ids) const override;
  std::string id_to_piece(TokenId id) const override;
  int vocab_size() const override { return vocab_size_; }
  TokenId bos_id() const override { return bos_id_; }
  TokenId eos_id() const override { return eos_id_; }
  bool add_bos() const override { return add_bos_; }
  bool add_eos() const override { return add_eos_; }
  bool decodable(TokenId id) const override { return id >= 0; }
  bool is_control(TokenId id) const override;
  int byte_value(TokenId id) const override;
  TokenBytes token_bytes(TokenId id) const override;

  std::optional<TokenId> token_to_id(std::string_view token) const;

 private:
  // The text of ID as decode() sees it (an added token's content or the model's token); null
  // when ID is neither.
  const std::string* token_text(TokenId id) const;

  HfPipeline p_;
  std::unique_ptr<hf::AddedVocabulary> added_;
  std::vector<int> added_index_;  // per id: index into added tokens, or -1
  int vocab_size_ = 0;
  TokenId bos_id_ = -1;
  TokenId eos_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  std::vector<TokenId> prefix_;  // what the post-processor puts before and after the sequence
  std::vector<TokenId> suffix_;
  // Per id, for the streaming detokenizer.
  std::vector<uint8_t> byte_kind_;
  std::vector<std::string> bytes_;
};

// Builds the pipeline from a tokenizer.json document (PATH names the file in errors).
HfPipeline parse_tokenizer_json(const std::string& json_text, const std::string& path);

}  // namespace llm
