#include "tokenizer/sentencepiece_proto.h"

#include <bit>
#include <string_view>

namespace llm {
namespace {

// Field numbers from sentencepiece_model.proto.
constexpr uint32_t kModelPieces = 1;
constexpr uint32_t kModelTrainerSpec = 2;
constexpr uint32_t kModelNormalizerSpec = 3;
constexpr uint32_t kPiecePiece = 1;
constexpr uint32_t kPieceScore = 2;
constexpr uint32_t kPieceType = 3;
constexpr uint32_t kTrainerModelType = 3;
constexpr uint32_t kTrainerByteFallback = 35;
constexpr uint32_t kNormalizerName = 1;
constexpr uint32_t kNormalizerAddDummyPrefix = 3;
constexpr uint32_t kNormalizerRemoveExtraWhitespaces = 4;
constexpr uint32_t kNormalizerEscapeWhitespaces = 5;
constexpr uint64_t kModelTypeBpe = 2;

constexpr uint32_t kVarint = 0;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed32 = 5;

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_tag(std::string& out, uint32_t field, uint32_t wire_type) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | wire_type);
}

void put_uint(std::string& out, uint32_t field, uint64_t v) {
  put_tag(out, field, kVarint);
  put_varint(out, v);
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_tag(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

void put_float(std::string& out, uint32_t field, float f) {
  put_tag(out, field, kFixed32);
  // Protobuf's fixed32 is little-endian whatever the host.
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

}  // namespace

std::string serialize_spm_bpe_model(const SpmModelSpec& spec) {
  std::string out;
  std::string piece;
  for (size_t i = 0; i < spec.pieces.size(); ++i) {
    piece.clear();
    put_bytes(piece, kPiecePiece, spec.pieces[i]);
    put_float(piece, kPieceScore, spec.scores[i]);
    put_uint(piece, kPieceType, static_cast<uint64_t>(spec.types[i]));
    put_bytes(out, kModelPieces, piece);
  }

  std::string trainer;
  put_uint(trainer, kTrainerModelType, kModelTypeBpe);
  put_uint(trainer, kTrainerByteFallback, spec.byte_fallback ? 1 : 0);
  put_bytes(out, kModelTrainerSpec, trainer);

  // "identity" with no precompiled charsmap: SentencePiece then leaves the text as it is, as
  // llama.cpp does; remove_extra_whitespaces must be set explicitly since it defaults to true.
  std::string normalizer;
  put_bytes(normalizer, kNormalizerName, "identity");
  put_uint(normalizer, kNormalizerAddDummyPrefix, spec.add_dummy_prefix ? 1 : 0);
  put_uint(normalizer, kNormalizerRemoveExtraWhitespaces, 0);
  put_uint(normalizer, kNormalizerEscapeWhitespaces, 1);
  put_bytes(out, kModelNormalizerSpec, normalizer);
  return out;
}

}  // namespace llm
