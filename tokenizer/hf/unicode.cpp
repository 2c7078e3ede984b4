#include "tokenizer/hf/unicode.h"

#include <unicode/uchar.h>

#include <array>

namespace llm::hf {
namespace {

CharClass classify(char32_t cp) {
  const auto c = static_cast<UChar32>(cp);
  if (u_hasBinaryProperty(c, UCHAR_WHITE_SPACE)) return kWhitespace;
  switch (u_charType(c)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return kLetter;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return kNumber;
    default:
      return kOther;
  }
}

// The Basic Multilingual Plane, classified once: nearly every character of real text is there.
const std::array<uint8_t, 0x10000>& bmp_classes() {
  static const std::array<uint8_t, 0x10000> table = [] {
    std::array<uint8_t, 0x10000> t{};
    for (char32_t cp = 0; cp < 0x10000; ++cp) t[cp] = classify(cp);
    return t;
  }();
  return table;
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

// Length of the valid character at TEXT[pos], or 0 when the bytes there are not one; *maximal
// receives the length of the maximal subpart (a proper prefix of a valid character) otherwise.
size_t valid_char_at(std::string_view text, size_t pos, size_t* maximal) {
  const auto b = static_cast<unsigned char>(text[pos]);
  *maximal = 1;
  if (b < 0x80) return 1;
  size_t length;
  unsigned lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    length = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    length = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    length = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t i = 1; i < length; ++i) {
    if (pos + i >= text.size()) return 0;
    const auto c = static_cast<unsigned char>(text[pos + i]);
    const bool ok = i == 1 ? (c >= lo && c <= hi) : (c & 0xC0) == 0x80;
    if (!ok) return 0;
    *maximal = i + 1;
  }
  return length;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  size_t pos = 0, maximal = 0;
  while (pos < text.size()) {
    const size_t n = valid_char_at(text, pos, &maximal);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0, maximal = 0;
  while (pos < text.size()) {
    // ASCII runs are the common case.
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      out += text[pos++];
      continue;
    }
    const size_t n = valid_char_at(text, pos, &maximal);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      pos += maximal;
    } else {
      out.append(text.substr(pos, n));
      pos += n;
    }
  }
  return out;
}

CharClass char_class(char32_t cp) {
  if (cp < 0x10000) return static_cast<CharClass>(bmp_classes()[cp]);
  return classify(cp);
}

bool is_punctuation(char32_t cp) {
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_P_MASK) != 0;
}

bool is_numeric(char32_t cp) {
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_N_MASK) != 0;
}

bool is_whitespace(char32_t cp) {
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_WHITE_SPACE);
}

}  // namespace llm::hf
