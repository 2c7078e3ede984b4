// UTF-8 and the parts of Python's str semantics that templates observe: code-point length
// and indexing, whitespace as str.isspace() defines it, case mapping, and printability for
// repr(). Invalid UTF-8 never throws: each bad byte counts as one code point of its own.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace llm::jinja::unicode {

// Decodes the code point at `pos` (pos < s.size()). Returns its length in bytes (1 for an
// invalid or truncated sequence, whose code point is then the byte value + 0xDC00, as
// Python's surrogateescape would give).
size_t decode(std::string_view s, size_t pos, char32_t* cp);
void append(std::string& out, char32_t cp);

// Number of code points.
size_t length(std::string_view s);
// Byte offset of every code point, plus s.size() at the end.
std::vector<size_t> offsets(std::string_view s);

bool is_space(char32_t cp);      // str.isspace()
bool is_printable(char32_t cp);  // str.isprintable(), approximated outside common ranges
char32_t to_upper(char32_t cp);
char32_t to_lower(char32_t cp);
bool is_cased(char32_t cp);  // has an upper/lower case distinction (letters we map)

// str.strip() / lstrip() / rstrip(): without `chars`, Python whitespace; with `chars`, any
// code point in it.
std::string_view strip(std::string_view s, bool left, bool right);
std::string_view strip_chars(std::string_view s, std::string_view chars, bool left, bool right);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
// str.title(): a cased letter after a cased letter is lowered, any other is uppered.
std::string py_title(std::string_view s);
// str.capitalize(): first code point uppered, the rest lowered.
std::string capitalize(std::string_view s);

}  // namespace llm::jinja::unicode
