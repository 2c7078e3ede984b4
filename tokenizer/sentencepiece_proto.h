// A SentencePiece ModelProto written out in protobuf's wire format, so that a vocabulary held in
// memory (a GGUF file's "llama" tokenizer) loads through SentencePieceProcessor::
// LoadFromSerializedProto. Debian's libsentencepiece ships no sentencepiece_model.pb.h, and the
// handful of fields needed here do not justify a protobuf dependency.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace llm {

struct SpmModelSpec {
  std::span<const std::string> pieces;
  std::span<const float> scores;   // one per piece
  std::span<const int32_t> types;  // one per piece, SentencePiece's (= llama.cpp's) values 1..6
  bool add_dummy_prefix = true;    // prepend "▁" to the text
  bool byte_fallback = false;      // unknown characters become <0xNN> pieces
};

// A BPE ModelProto (trainer_spec.model_type = BPE) with an identity normalizer that escapes
// spaces as "▁" and keeps runs of them, as llama.cpp's SPM tokenizer does.
std::string serialize_spm_bpe_model(const SpmModelSpec& spec);

}  // namespace llm
