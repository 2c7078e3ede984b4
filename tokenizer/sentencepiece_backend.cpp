#include "tokenizer/sentencepiece_backend.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "llm/error.h"
#include "tokenizer/tokenizer_config.h"

namespace llm {
namespace {

constexpr int16_t kControlPiece = -2;
constexpr int16_t kOtherPiece = -1;
// An unused piece (type UNUSED): never produced by encoding; llama.cpp decodes it to nothing,
// as it does the [PADn] pieces its converter pads a vocabulary with up to the model's size.
constexpr int16_t kUnusedPiece = -3;

// Byte-fallback pieces are spelled "<0xNN>"; SentencePiece has no public accessor for the value.
int16_t parse_byte_piece(const std::string& piece) {
  int value = -1;
  if (piece.size() == 6 && piece.starts_with("<0x") && piece.back() == '>') {
    const char* begin = piece.data() + 3;
    const auto [ptr, ec] = std::from_chars(begin, begin + 2, value, 16);
    if (ec != std::errc() || ptr != begin + 2) value = -1;
  }
  return static_cast<int16_t>(value);
}

}  // namespace

SentencePieceBackend::SentencePieceBackend() = default;
SentencePieceBackend::~SentencePieceBackend() = default;

std::unique_ptr<SentencePieceBackend> SentencePieceBackend::load(
    const std::filesystem::path& model_dir) {
  const std::filesystem::path model_path = model_dir / "tokenizer.model";
  std::error_code ec;
  const auto status = std::filesystem::status(model_path, ec);
  if (!std::filesystem::exists(status)) {
    throw Error(ErrorCode::kNotFound, model_path.string() + ": file not found");
  }
  // SentencePiece aborts through an uncaught iostream exception when handed a directory.
  if (!std::filesystem::is_regular_file(status)) {
    throw Error(ErrorCode::kCorruptFile, model_path.string() + ": not a regular file");
  }

  std::unique_ptr<SentencePieceBackend> owned(new SentencePieceBackend());
  SentencePieceBackend& tok = *owned;
  tok.sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status sp_status;
  try {
    sp_status = tok.sp_->Load(model_path.string());
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kCorruptFile,
                model_path.string() + ": cannot load SentencePiece model: " + e.what());
  }
  if (!sp_status.ok()) {
    throw Error(ErrorCode::kCorruptFile,
                model_path.string() + ": cannot load SentencePiece model: " + sp_status.ToString());
  }

  tok.index_pieces(model_path.string());
  tok.bos_id_ = tok.sp_->bos_id();
  tok.eos_id_ = tok.sp_->eos_id();

  const TokenizerConfig config = read_tokenizer_config(model_dir);
  if (config.add_bos_token) tok.add_bos_ = *config.add_bos_token;
  if (config.add_eos_token) tok.add_eos_ = *config.add_eos_token;
  return owned;
}

std::unique_ptr<SentencePieceBackend> SentencePieceBackend::from_serialized_proto(
    std::string_view proto, const std::string& where, TokenId bos_id, TokenId eos_id, bool add_bos,
    bool add_eos) {
  std::unique_ptr<SentencePieceBackend> owned(new SentencePieceBackend());
  SentencePieceBackend& tok = *owned;
  tok.sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status status;
  try {
    status = tok.sp_->LoadFromSerializedProto(proto);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kCorruptFile,
                where + ": SentencePiece refuses the vocabulary: " + e.what());
  }
  if (!status.ok()) {
    throw Error(ErrorCode::kCorruptFile,
                where + ": SentencePiece refuses the vocabulary: " + status.ToString());
  }
  tok.index_pieces(where);
  tok.bos_id_ = bos_id;
  tok.eos_id_ = eos_id;
  tok.add_bos_ = add_bos;
  tok.add_eos_ = add_eos;
  return owned;
}

void SentencePieceBackend::index_pieces(const std::string& where) {
  const int n = sp_->GetPieceSize();
  piece_class_.assign(static_cast<size_t>(n), kOtherPiece);
  for (int id = 0; id < n; ++id) {
    if (sp_->IsUnused(id)) {
      piece_class_[id] = kUnusedPiece;
    } else if (sp_->IsControl(id)) {
      piece_class_[id] = kControlPiece;
      control_pieces_.emplace_back(sp_->IdToPiece(id), id);
    } else if (sp_->IsByte(id)) {
      const int16_t value = parse_byte_piece(sp_->IdToPiece(id));
      if (value < 0) {
        throw Error(ErrorCode::kCorruptFile, where + ": byte piece " + std::to_string(id) +
                                                 " is spelled \"" + sp_->IdToPiece(id) +
                                                 "\", not <0xNN>");
      }
      piece_class_[id] = value;
    }
  }

  // Longest first, so "<s>" never shadows a longer control piece that starts the same way.
  std::sort(control_pieces_.begin(), control_pieces_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::vector<TokenId> SentencePieceBackend::encode(std::string_view text,
                                                  bool add_special_tokens) const {
  std::vector<int> pieces;
  const auto status = sp_->Encode(text, &pieces);
  if (!status.ok()) {
    throw Error(ErrorCode::kInternal, "SentencePiece encode failed: " + status.ToString());
  }
  std::vector<TokenId> ids;
  ids.reserve(pieces.size() + 2);
  if (add_special_tokens && add_bos_ && bos_id() >= 0) ids.push_back(bos_id());
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (add_special_tokens && add_eos_ && eos_id() >= 0) ids.push_back(eos_id());
  return ids;
}

std::vector<TokenId> SentencePieceBackend::encode_with_special_tokens(std::string_view text) const {
  std::vector<TokenId> ids;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t best = std::string_view::npos;
    const std::pair<std::string, TokenId>* hit = nullptr;
    for (const auto& sp : control_pieces_) {
      const size_t at = text.find(sp.first, pos);
      if (at < best) {
        best = at;
        hit = &sp;
      }
    }
    const std::string_view plain =
        text.substr(pos, best == std::string_view::npos ? std::string_view::npos : best - pos);
    if (!plain.empty()) {
      const std::vector<TokenId> part = encode(plain, /*add_special_tokens=*/false);
      ids.insert(ids.end(), part.begin(), part.end());
    }
    if (!hit) break;
    ids.push_back(hit->second);
    pos = best + hit->first.size();
  }
  return ids;
}

std::string SentencePieceBackend::decode(std::span<const TokenId> ids) const {
  std::vector<int> kept;  // [ids.size()] at most: unused pieces left out
  kept.reserve(ids.size());
  for (const TokenId id : ids) {
    if (id < 0 || id >= vocab_size() || piece_class_[id] != kUnusedPiece) kept.push_back(id);
  }
  std::string text;
  const auto status = sp_->Decode(kept, &text);
  if (!status.ok()) {
    throw Error(ErrorCode::kInternal, "SentencePiece decode failed: " + status.ToString());
  }
  return text;
}

std::string SentencePieceBackend::id_to_piece(TokenId id) const {
  if (id < 0 || id >= vocab_size()) {
    throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) +
                                                 " is out of range [0, " +
                                                 std::to_string(vocab_size()) + ")");
  }
  return sp_->IdToPiece(id);
}

int SentencePieceBackend::vocab_size() const {
  return sp_->GetPieceSize();
}
TokenId SentencePieceBackend::bos_id() const {
  return bos_id_;
}
TokenId SentencePieceBackend::eos_id() const {
  return eos_id_;
}

TokenBytes SentencePieceBackend::token_bytes(TokenId id) const {
  // One static string per byte value, so the view outlives the call.
  static const std::vector<std::string> kBytes = [] {
    std::vector<std::string> v;
    for (int b = 0; b < 256; ++b) v.emplace_back(1, static_cast<char>(b));
    return v;
  }();
  const int b = byte_value(id);
  // Unused pieces are dropped before decoding: a byte run goes on across them.
  if (id >= 0 && id < vocab_size() && piece_class_[id] == kUnusedPiece) {
    return {TokenBytes::kTransparent, {}};
  }
  // Control pieces end a run of byte pieces in SentencePiece's decode (see
  // incremental_detokenizer.cpp), so they are kText like every other piece.
  if (b >= 0) return {TokenBytes::kBytes, kBytes[static_cast<size_t>(b)]};
  return {TokenBytes::kText, {}};
}

bool SentencePieceBackend::is_control(TokenId id) const {
  return id >= 0 && id < vocab_size() && piece_class_[id] == kControlPiece;
}

int SentencePieceBackend::byte_value(TokenId id) const {
  if (id < 0 || id >= vocab_size()) return -1;
  return piece_class_[id] >= 0 ? piece_class_[id] : -1;
}

}  // namespace llm
