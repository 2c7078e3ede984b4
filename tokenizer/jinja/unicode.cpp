#include "tokenizer/jinja/unicode.h"

namespace llm::jinja::unicode {

size_t decode(std::string_view s, size_t pos, char32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  const auto bad = [&] {
    *cp = 0xDC00 + b0;
    return size_t{1};
  };
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len = 0;
  char32_t value = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, value = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, value = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, value = b0 & 0x07, min = 0x10000;
  } else {
    return bad();
  }
  if (pos + len > s.size()) return bad();
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[pos + k]);
    if ((b & 0xC0) != 0x80) return bad();
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return bad();
  *cp = value;
  return len;
}

void append(std::string& out, char32_t cp) {
  if (cp >= 0xDC80 && cp <= 0xDCFF) {
    out.push_back(static_cast<char>(cp - 0xDC00));  // an invalid byte kept as it was
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t length(std::string_view s) {
  size_t n = 0;
  char32_t cp;
  for (size_t i = 0; i < s.size(); i += decode(s, i, &cp)) ++n;
  return n;
}

std::vector<size_t> offsets(std::string_view s) {
  std::vector<size_t> out;
  char32_t cp;
  for (size_t i = 0; i < s.size(); i += decode(s, i, &cp)) out.push_back(i);
  out.push_back(s.size());
  return out;
}

bool is_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_printable(char32_t cp) {
  // Python treats categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs (except ' ') as unprintable.
  // This covers the controls, spaces, format characters and private use areas; unassigned
  // code points would need the full Unicode database and are taken as printable.
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) return false;
  if (cp < 0x100) return true;
  if (is_space(cp)) return false;
  if ((cp >= 0x600 && cp <= 0x605) || cp == 0x61C || cp == 0x6DD || cp == 0x70F || cp == 0x180E ||
      (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
      (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
      (cp >= 0xD800 && cp <= 0xF8FF) || cp == 0x110BD || (cp >= 0x1BCA0 && cp <= 0x1BCA3) ||
      (cp >= 0x1D173 && cp <= 0x1D17A) || (cp >= 0xE0000 && cp <= 0xE007F) || cp >= 0xF0000) {
    return false;
  }
  return true;
}

namespace {

// Simple (one-to-one) case pairs for Latin-1, Latin Extended-A, Greek, Cyrillic and the
// fullwidth forms; other scripts are left as they are.
char32_t upper_of(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return c;
  if (c == 0xB5) return 0x39C;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x131) return 'I';
    if (c == 0x17F) return 'S';
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 0) ? c - 1 : c;
    if (c == 0x130 || c == 0x138 || c == 0x149 || c == 0x178) return c;
    return (c % 2 == 1) ? c - 1 : c;
  }
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c == 0x3C2) return 0x3A3;
  if (c >= 0x3AC && c <= 0x3AF) return c == 0x3AC ? 0x386 : c - 37;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  if (c >= 0xFF41 && c <= 0xFF5A) return c - 32;
  return c;
}

char32_t lower_of(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130) return 'i';
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 1) ? c + 1 : c;
    if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
    return (c % 2 == 0) ? c + 1 : c;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;
  return c;
}

template <typename F>
std::string map_code_points(std::string_view s, F&& f) {
  std::string out;
  out.reserve(s.size());
  char32_t cp;
  size_t index = 0;
  for (size_t i = 0; i < s.size(); ++index) {
    const size_t len = decode(s, i, &cp);
    if (cp >= 0xDC80 && cp <= 0xDCFF) {
      out.append(s.substr(i, len));
    } else {
      append(out, f(cp, index));
    }
    i += len;
  }
  return out;
}

}  // namespace

char32_t to_upper(char32_t cp) {
  return upper_of(cp);
}
char32_t to_lower(char32_t cp) {
  return lower_of(cp);
}
bool is_cased(char32_t cp) {
  return upper_of(cp) != cp || lower_of(cp) != cp;
}

std::string_view strip(std::string_view s, bool left, bool right) {
  size_t begin = 0;
  size_t end = s.size();
  char32_t cp;
  if (left) {
    while (begin < end) {
      const size_t len = decode(s, begin, &cp);
      if (!is_space(cp)) break;
      begin += len;
    }
  }
  if (right) {
    while (end > begin) {
      // Step back to the start of the last code point (at most 4 bytes back).
      size_t start = end - 1;
      while (start > begin && end - start < 4 &&
             (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
        --start;
      }
      if (start + decode(s, start, &cp) != end) {  // not one well-formed code point
        start = end - 1;
        decode(s, start, &cp);
      }
      if (!is_space(cp)) break;
      end = start;
    }
  }
  return s.substr(begin, end - begin);
}

std::string_view strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
  std::vector<char32_t> set;
  char32_t cp;
  for (size_t i = 0; i < chars.size();) {
    i += decode(chars, i, &cp);
    set.push_back(cp);
  }
  const auto in_set = [&](char32_t c) {
    for (char32_t x : set) {
      if (x == c) return true;
    }
    return false;
  };
  const std::vector<size_t> off = offsets(s);
  size_t first = 0;
  size_t last = off.size() - 1;  // code point index one past the end
  if (left) {
    while (first < last && (decode(s, off[first], &cp), in_set(cp))) ++first;
  }
  if (right) {
    while (last > first && (decode(s, off[last - 1], &cp), in_set(cp))) --last;
  }
  return s.substr(off[first], off[last] - off[first]);
}

std::string upper(std::string_view s) {
  return map_code_points(s, [](char32_t c, size_t) { return upper_of(c); });
}

std::string lower(std::string_view s) {
  return map_code_points(s, [](char32_t c, size_t) { return lower_of(c); });
}

std::string py_title(std::string_view s) {
  bool previous_cased = false;
  return map_code_points(s, [&](char32_t c, size_t) {
    const char32_t mapped = previous_cased ? lower_of(c) : upper_of(c);
    previous_cased = is_cased(c);
    return mapped;
  });
}

std::string capitalize(std::string_view s) {
  return map_code_points(s,
                         [](char32_t c, size_t i) { return i == 0 ? upper_of(c) : lower_of(c); });
}

}  // namespace llm::jinja::unicode
