// Decoders of tokenizer.json (ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, Sequence):
// `tokenizers`' decode_chain, turning the tokens' vocabulary spellings into text pieces that
// decode() concatenates.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/hf/regex.h"

namespace llm::hf {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// The bytes a ByteLevel decoder makes of TOKEN: each character's byte when all of them stand for
// bytes, else the token's own UTF-8 (as `tokenizers` treats added tokens).
std::string byte_level_bytes(const std::string& token);
// The byte of a "<0xNN>" token, else -1.
int byte_fallback_value(const std::string& token);

std::unique_ptr<Decoder> make_byte_level_decoder();
std::unique_ptr<Decoder> make_metaspace_decoder(std::string replacement, bool prepend);
std::unique_ptr<Decoder> make_byte_fallback_decoder();
std::unique_ptr<Decoder> make_fuse_decoder();
std::unique_ptr<Decoder> make_strip_decoder(std::string content, size_t start, size_t stop);
std::unique_ptr<Decoder> make_replace_decoder(std::unique_ptr<RegexMatcher> regex,
                                              std::string literal, std::string content);
std::unique_ptr<Decoder> make_sequence_decoder(std::vector<std::unique_ptr<Decoder>> steps);

}  // namespace llm::hf
