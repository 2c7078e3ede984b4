// UTF-8 and Unicode-property helpers for the tokenizer.json pipeline. Properties come from ICU so
// every component (hand-written splitter, ICU regex, normalizers) agrees on one Unicode version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llm::hf {

// Decodes the code point at TEXT[*pos] (TEXT must be valid UTF-8) and advances *pos.
inline char32_t next_code_point(std::string_view text, size_t* pos) {
  const auto b0 = static_cast<unsigned char>(text[*pos]);
  if (b0 < 0x80) {
    ++*pos;
    return b0;
  }
  const auto cont = [&](size_t i) { return static_cast<unsigned char>(text[*pos + i]) & 0x3Fu; };
  char32_t cp;
  if (b0 < 0xE0) {
    cp = ((b0 & 0x1Fu) << 6) | cont(1);
    *pos += 2;
  } else if (b0 < 0xF0) {
    cp = ((b0 & 0x0Fu) << 12) | (cont(1) << 6) | cont(2);
    *pos += 3;
  } else {
    cp = ((b0 & 0x07u) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
    *pos += 4;
  }
  return cp;
}

// Length in bytes of the UTF-8 character whose lead byte is B (valid UTF-8 assumed).
inline size_t utf8_length(unsigned char b) {
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

void append_utf8(std::string& out, char32_t cp);

// TEXT with every maximal invalid UTF-8 subpart replaced by U+FFFD, as Rust's
// String::from_utf8_lossy (and Python's errors="replace") do. Returns TEXT itself, copied, when
// it is valid.
std::string to_valid_utf8(std::string_view text);
bool is_valid_utf8(std::string_view text);

// Character classes the pre-tokenizer patterns use.
enum CharClass : uint8_t {
  kOther = 0,
  kLetter = 1,      // \p{L}
  kNumber = 2,      // \p{N}
  kWhitespace = 3,  // \s as Oniguruma reads it: the White_Space property
};
CharClass char_class(char32_t cp);
bool is_punctuation(char32_t cp);  // \p{P} (Rust's char::is_ascii_punctuation or P*)
bool is_numeric(char32_t cp);      // Rust's char::is_numeric: \p{N}
bool is_whitespace(char32_t cp);   // Rust's char::is_whitespace: White_Space

}  // namespace llm::hf
