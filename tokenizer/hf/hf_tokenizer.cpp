#include "tokenizer/hf/hf_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "llm/error.h"
#include "tokenizer/hf/unicode.h"
#include "tokenizer/tokenizer_config.h"

namespace llm {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  if (!std::filesystem::is_regular_file(path) || !in || !(buffer << in.rdbuf())) {
    throw Error(ErrorCode::kCorruptFile, path.string() + ": cannot be read or is empty");
  }
  return buffer.str();
}

// The tokenizer classes whose transformers fast tokenizer rebuilds the post-processor from
// add_bos_token / add_eos_token (LlamaTokenizerFast.update_post_processor and its copies), with
// their defaults. Every other class leaves BOS / EOS to tokenizer.json's post-processor.
bool rebuilds_post_processor(const std::string& cls) {
  static const char* const kClasses[] = {"LlamaTokenizer",     "LlamaTokenizerFast",
                                         "CodeLlamaTokenizer", "CodeLlamaTokenizerFast",
                                         "GemmaTokenizer",     "GemmaTokenizerFast"};
  return std::find(std::begin(kClasses), std::end(kClasses), cls) != std::end(kClasses);
}

}  // namespace

std::unique_ptr<HfTokenizer> HfTokenizer::load(const std::filesystem::path& model_dir) {
  const std::filesystem::path path = model_dir / "tokenizer.json";
  HfPipeline pipeline = parse_tokenizer_json(read_file(path), path.string());
  const TokenizerConfig config = read_tokenizer_config(model_dir);

  // Look ids up the way the tokenizer would: added tokens first, then the model.
  auto lookup = [&](const std::string& token) -> TokenId {
    for (const auto& t : pipeline.added_tokens) {
      if (t.content == token) return t.id;
    }
    if (const auto id = pipeline.model->token_to_id(token)) return *id;
    return -1;
  };
  const TokenId bos = config.bos_token ? lookup(*config.bos_token) : -1;
  const TokenId eos = config.eos_token ? lookup(*config.eos_token) : -1;
  if (rebuilds_post_processor(config.tokenizer_class)) {
    const bool add_bos = config.add_bos_token.value_or(true);
    const bool add_eos = config.add_eos_token.value_or(false);
    if ((add_bos && bos < 0) || (add_eos && eos < 0)) {
      throw Error(ErrorCode::kCorruptFile,
                  config.path.string() +
                      ": add_bos_token / add_eos_token asks for a token that "
                      "bos_token / eos_token does not name in " +
                      path.string());
    }
    std::vector<TokenId> before, after;
    if (add_bos) before.push_back(bos);
    if (add_eos) after.push_back(eos);
    pipeline.post_processor = hf::make_template(std::move(before), std::move(after));
  }
  return std::make_unique<HfTokenizer>(std::move(pipeline), bos, eos);
}

HfTokenizer::HfTokenizer(HfPipeline pipeline, TokenId bos_id, TokenId eos_id)
    : p_(std::move(pipeline)), bos_id_(bos_id), eos_id_(eos_id) {
  added_ = std::make_unique<hf::AddedVocabulary>(p_.added_tokens, p_.normalizer.get());
  vocab_size_ = std::max(p_.model->vocab_size(), p_.min_vocab_size);
  for (const auto& t : p_.added_tokens) vocab_size_ = std::max(vocab_size_, t.id + 1);
  added_index_.assign(static_cast<size_t>(vocab_size_), -1);
  for (size_t i = 0; i < p_.added_tokens.size(); ++i) {
    added_index_[static_cast<size_t>(p_.added_tokens[i].id)] = static_cast<int>(i);
  }
  if (p_.post_processor) p_.post_processor->wrap(prefix_, suffix_);
  add_bos_ = !prefix_.empty();
  add_eos_ = !suffix_.empty();

  // How each id's text joins its neighbours' in decode(): see tokenizer_backend.h.
  byte_kind_.assign(static_cast<size_t>(vocab_size_), TokenBytes::kTransparent);
  bytes_.resize(static_cast<size_t>(vocab_size_));
  for (TokenId id = 0; id < vocab_size_; ++id) {
    const std::string* text = token_text(id);
    auto& kind = byte_kind_[static_cast<size_t>(id)];
    if (!text || is_control(id)) continue;  // skipped by decode(): no effect on a byte run
    kind = TokenBytes::kText;
    if (p_.decoder_is_byte_level) {
      kind = TokenBytes::kBytes;
      bytes_[static_cast<size_t>(id)] = hf::byte_level_bytes(*text);
    } else if (p_.decoder_has_byte_fallback) {
      const int b = hf::byte_fallback_value(*text);
      if (b >= 0) {
        kind = TokenBytes::kBytes;
        bytes_[static_cast<size_t>(id)] = std::string(1, static_cast<char>(b));
      }
    }
  }
}

std::optional<TokenId> HfTokenizer::token_to_id(std::string_view token) const {
  for (const auto& t : p_.added_tokens) {
    if (t.content == token) return t.id;
  }
  return p_.model->token_to_id(token);
}

const std::string* HfTokenizer::token_text(TokenId id) const {
  if (id < 0 || id >= vocab_size_) return nullptr;
  const int added = added_index_[static_cast<size_t>(id)];
  if (added >= 0) return &p_.added_tokens[static_cast<size_t>(added)].content;
  return p_.model->id_to_token(id);
}

std::vector<TokenId> HfTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  // `tokenizers` takes Rust strings, always valid UTF-8; invalid input is read the way Python's
  // decode(errors="replace") would have made it one.
  std::string valid;
  if (!hf::is_valid_utf8(text)) {
    valid = hf::to_valid_utf8(text);
    text = valid;
  }
  std::vector<TokenId> ids;
  if (add_special_tokens) ids = prefix_;
  auto to_model = [&](std::string_view word, bool) { p_.model->encode(word, ids); };
  std::vector<hf::Segment> raw;
  std::vector<hf::Segment> normalized;
  std::string piece;
  added_->split(text, /*normalized=*/false, raw);
  for (const hf::Segment& seg : raw) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    if (seg.end == seg.start) continue;
    piece.assign(text.substr(seg.start, seg.end - seg.start));
    if (p_.normalizer) p_.normalizer->normalize(piece);
    normalized.clear();
    added_->split(piece, /*normalized=*/true, normalized);
    for (const hf::Segment& sub : normalized) {
      if (sub.id >= 0) {
        ids.push_back(sub.id);
        continue;
      }
      if (sub.end == sub.start) continue;
      const std::string_view word(piece.data() + sub.start, sub.end - sub.start);
      const bool at_start = seg.start == 0 && sub.start == 0;
      if (p_.pre_tokenizer) {
        p_.pre_tokenizer->split(word, at_start, hf::PieceSink(to_model));
      } else {
        to_model(word, at_start);
      }
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  return ids;
}

std::vector<TokenId> HfTokenizer::encode_with_special_tokens(std::string_view text) const {
  // encode() already turns literal special tokens into their ids, as `tokenizers` does.
  return encode(text, /*add_special_tokens=*/false);
}

std::string HfTokenizer::decode(std::span<const TokenId> ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const TokenId id : ids) {
    // Ids past the vocabulary decode to nothing, as in `tokenizers` (id_to_token is None).
    const std::string* text = token_text(id);
    if (text && !is_control(id)) tokens.push_back(*text);
  }
  if (!p_.decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  p_.decoder->decode_chain(tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

std::string HfTokenizer::id_to_piece(TokenId id) const {
  const std::string* text = token_text(id);
  return text ? *text : std::string();
}

bool HfTokenizer::is_control(TokenId id) const {
  if (id < 0 || id >= vocab_size_) return false;
  const int added = added_index_[static_cast<size_t>(id)];
  return added >= 0 && p_.added_tokens[static_cast<size_t>(added)].special;
}

int HfTokenizer::byte_value(TokenId id) const {
  if (!p_.decoder_has_byte_fallback) return -1;
  const std::string* text = token_text(id);
  return text ? hf::byte_fallback_value(*text) : -1;
}

TokenBytes HfTokenizer::token_bytes(TokenId id) const {
  if (id < 0 || id >= vocab_size_) return {TokenBytes::kTransparent, {}};
  const auto kind = static_cast<TokenBytes::Kind>(byte_kind_[static_cast<size_t>(id)]);
  return {kind, kind == TokenBytes::kBytes ? std::string_view(bytes_[static_cast<size_t>(id)])
                                           : std::string_view()};
}

}  // namespace llm
