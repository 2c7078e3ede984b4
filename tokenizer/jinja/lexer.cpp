#include "tokenizer/jinja/lexer.h"

#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/format.h"
#include "tokenizer/jinja/unicode.h"

namespace llm::jinja {
namespace {

[[noreturn]] void fail(const std::string& message, size_t offset) {
  throw TemplateError(TemplateError::Kind::kSyntax, message, offset);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t start = find_tag_start(pos_);
      if (start == std::string_view::npos) {
        emit_text(src_.substr(pos_), pos_);
        break;
      }
      const char kind = src_[start + 1];
      size_t after = start + 2;
      char sign = 0;
      if (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
      std::string_view text = src_.substr(pos_, start - pos_);
      text = strip_before_tag(text, sign, kind != '{');
      emit_text(text, pos_);
      if (kind == '#') {
        lex_comment(start, after);
      } else if (kind == '{' || !try_raw(start, after)) {
        lex_tag(kind == '{', start, after);
      }
    }
    tokens_.push_back(Token{Token::Type::kEof, "", 0, 0, src_.size()});
    return std::move(tokens_);
  }

 private:
  size_t find_tag_start(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string_view::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string_view::npos;
  }

  // The whitespace rules for the text before a tag: `-` strips all of it; otherwise
  // lstrip_blocks removes the indentation of a block or comment tag that starts its line.
  std::string_view strip_before_tag(std::string_view text, char sign, bool is_block) const {
    if (sign == '-') return unicode::strip(text, false, true);
    if (sign == '+' || !is_block) return text;
    const size_t line_pos = text.rfind('\n') + 1;  // npos + 1 == 0
    if (line_pos == 0 && !line_starting_) return text;
    const std::string_view tail = text.substr(line_pos);
    if (!tail.empty() && unicode::strip(tail, false, true).empty()) return text.substr(0, line_pos);
    return text;
  }

  size_t skip_space(size_t p) const {
    char32_t cp;
    while (p < src_.size()) {
      const size_t len = unicode::decode(src_, p, &cp);
      if (!unicode::is_space(cp)) break;
      p += len;
    }
    return p;
  }

  bool at(size_t p, std::string_view s) const { return src_.substr(p, s.size()) == s; }

  void emit_text(std::string_view text, size_t offset) {
    if (!text.empty()) {
      tokens_.push_back(Token{Token::Type::kText, std::string(text), 0, 0, offset});
    }
  }

  void emit(Token::Type type, std::string text, size_t offset) {
    tokens_.push_back(Token{type, std::move(text), 0, 0, offset});
  }

  // The end of a block tag (or comment / raw) at `p`, with its trim rules; returns the
  // position after it, or npos when there is none at `p`.
  size_t match_block_end(size_t p, char close) const {
    const char end[3] = {close, '}', 0};
    if ((src_[p] == '+') && at(p + 1, end)) return p + 3;
    if ((src_[p] == '-') && at(p + 1, end)) return skip_space(p + 3);
    if (at(p, end)) return (p + 2 < src_.size() && src_[p + 2] == '\n') ? p + 3 : p + 2;
    return std::string_view::npos;
  }

  void finish_tag(size_t end) {
    line_starting_ = end > 0 && src_[end - 1] == '\n';
    pos_ = end;
  }

  void lex_comment(size_t start, size_t body) {
    const size_t close = src_.find("#}", body);
    if (close == std::string_view::npos) fail("Missing end of comment tag", start);
    size_t p = close;
    if (close > body && (src_[close - 1] == '-' || src_[close - 1] == '+')) p = close - 1;
    finish_tag(match_block_end(p, '#'));
  }

  // {% raw %}...{% endraw %}: the content is text, tags in it included.
  bool try_raw(size_t start, size_t after) {
    size_t p = skip_space(after);
    if (!at(p, "raw")) return false;
    p = skip_space(p + 3);
    size_t end;
    if (at(p, "-%}")) {
      end = skip_space(p + 3);
    } else if (at(p, "%}")) {
      end = p + 2;  // Jinja does not apply trim_blocks to the raw start tag
    } else {
      return false;
    }
    line_starting_ = src_[end - 1] == '\n';
    for (size_t tag = find_tag_start(end); tag != std::string_view::npos;
         tag = find_tag_start(tag + 1)) {
      if (src_[tag + 1] != '%') continue;
      size_t q = tag + 2;
      char sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      q = skip_space(q);
      if (!at(q, "endraw")) continue;
      q = skip_space(q + 6);
      const size_t close = q < src_.size() ? match_block_end(q, '%') : std::string_view::npos;
      if (close == std::string_view::npos) continue;
      emit_text(strip_before_tag(src_.substr(end, tag - end), sign, true), end);
      finish_tag(close);
      return true;
    }
    fail("Missing end of raw directive", start);
  }

  void lex_tag(bool is_variable, size_t start, size_t p) {
    emit(is_variable ? Token::Type::kVarBegin : Token::Type::kBlockBegin, "", start);
    std::string balance;  // closing brackets still expected
    while (true) {
      if (p >= src_.size()) {
        pos_ = p;
        return;  // the parser reports the missing end tag
      }
      if (balance.empty()) {
        size_t end = std::string_view::npos;
        if (is_variable) {
          if (at(p, "-}}")) end = skip_space(p + 3);
          if (at(p, "}}")) end = p + 2;
        } else {
          end = match_block_end(p, '%');
        }
        if (end != std::string_view::npos) {
          emit(is_variable ? Token::Type::kVarEnd : Token::Type::kBlockEnd, "", p);
          finish_tag(end);
          return;
        }
      }
      const size_t next = skip_space(p);
      if (next != p) {
        p = next;
        continue;
      }
      p = lex_token(p, balance);
    }
  }

  size_t lex_token(size_t p, std::string& balance) {
    const char c = src_[p];
    if (is_digit(c)) return lex_number(p);
    if (is_name_start(c)) {
      size_t q = p;
      while (q < src_.size() && is_name_char(src_[q])) ++q;
      emit(Token::Type::kName, std::string(src_.substr(p, q - p)), p);
      return q;
    }
    if (c == '\'' || c == '"') return lex_string(p);
    static constexpr std::string_view kTwoChar[] = {"//", "**", "==", "!=", ">=", "<="};
    for (std::string_view op : kTwoChar) {
      if (at(p, op)) {
        emit(Token::Type::kOperator, std::string(op), p);
        return p + 2;
      }
    }
    static constexpr std::string_view kOneChar = "+-/*%~[](){}><=.:|,;";
    if (kOneChar.find(c) == std::string_view::npos) {
      char32_t cp;
      unicode::decode(src_, p, &cp);
      std::string shown;
      unicode::append(shown, cp);
      fail("unexpected char '" + shown + "'", p);
    }
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) fail(std::string("unexpected '") + c + "'", p);
      if (balance.back() != c) {
        fail(std::string("unexpected '") + c + "', expected '" + balance.back() + "'", p);
      }
      balance.pop_back();
    }
    emit(Token::Type::kOperator, std::string(1, c), p);
    return p + 1;
  }

  // Digits with single underscores between them ("1_000"); returns the end, or `p` if none.
  size_t digits(size_t p) const {
    if (p >= src_.size() || !is_digit(src_[p])) return p;
    size_t q = p + 1;
    while (q < src_.size()) {
      if (is_digit(src_[q])) {
        ++q;
      } else if (src_[q] == '_' && q + 1 < src_.size() && is_digit(src_[q + 1])) {
        q += 2;
      } else {
        break;
      }
    }
    return q;
  }

  size_t lex_number(size_t p) {
    // Floats first, as Jinja does: 1.5, 1e3, 1.5e-3 (not after a '.', so x.0.1 is items).
    if (p == 0 || src_[p - 1] != '.') {
      const size_t int_end = digits(p);
      size_t q = int_end;
      if (q < src_.size() && src_[q] == '.' && digits(q + 1) != q + 1) q = digits(q + 1);
      bool is_float = q != int_end;
      if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
        size_t e = q + 1;
        if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
        if (digits(e) != e) {
          q = digits(e);
          is_float = true;
        }
      }
      if (is_float) {
        std::string text;
        for (char ch : src_.substr(p, q - p)) {
          if (ch != '_') text.push_back(ch);
        }
        double value = 0;
        parse_float_literal(text, &value);
        Token t{Token::Type::kFloat, text, 0, value, p};
        tokens_.push_back(std::move(t));
        return q;
      }
    }
    int base = 10;
    size_t q = p;
    if (src_[p] == '0' && p + 1 < src_.size() &&
        std::string_view("bBoOxX").find(src_[p + 1]) != std::string_view::npos) {
      const char b = static_cast<char>(src_[p + 1] | 0x20);
      base = b == 'b' ? 2 : b == 'o' ? 8 : 16;
      q = p + 2;
      const auto valid = [&](char ch) {
        const int v = hex_value(ch);
        return v >= 0 && v < base;
      };
      const size_t body = q;
      while (q < src_.size()) {
        if (valid(src_[q])) {
          ++q;
        } else if (src_[q] == '_' && q + 1 < src_.size() && valid(src_[q + 1])) {
          q += 2;
        } else {
          break;
        }
      }
      if (q == body) {
        base = 10;  // just "0"; the letter is lexed as a name
        q = p + 1;
      }
    } else if (src_[p] == '0') {
      q = p + 1;  // "0", "0_0": a decimal literal may not start with 0
      while (q < src_.size()) {
        if (src_[q] == '0') {
          ++q;
        } else if (src_[q] == '_' && q + 1 < src_.size() && src_[q + 1] == '0') {
          q += 2;
        } else {
          break;
        }
      }
    } else {
      q = digits(p);
    }
    const size_t body = base == 10 ? p : p + 2;
    uint64_t value = 0;
    for (size_t i = body; i < q; ++i) {
      if (src_[i] == '_') continue;
      const auto d = static_cast<uint64_t>(hex_value(src_[i]));
      if (value > (static_cast<uint64_t>(INT64_MAX) - d) / static_cast<uint64_t>(base)) {
        fail("integer literal too large", p);
      }
      value = value * static_cast<uint64_t>(base) + d;
    }
    Token t{Token::Type::kInt, std::string(src_.substr(p, q - p)), static_cast<int64_t>(value), 0,
            p};
    tokens_.push_back(std::move(t));
    return q;
  }

  size_t lex_string(size_t p) {
    const char quote = src_[p];
    std::string value;
    size_t q = p + 1;
    while (true) {
      if (q >= src_.size()) fail("unterminated string literal", p);
      const char c = src_[q];
      if (c == quote) break;
      if (c != '\\') {
        value.push_back(c);
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) fail("unterminated string literal", p);
      q = unescape(q, value);
    }
    emit(Token::Type::kString, std::move(value), p);
    return q + 1;
  }

  // Python's unicode-escape for the escape at `p` (a backslash); returns the position after it.
  size_t unescape(size_t p, std::string& out) {
    const char c = src_[p + 1];
    switch (c) {
      case '\n':
        return p + 2;  // line continuation
      case '\\':
      case '\'':
      case '"':
        out.push_back(c);
        return p + 2;
      case 'a':
        out.push_back('\a');
        return p + 2;
      case 'b':
        out.push_back('\b');
        return p + 2;
      case 'f':
        out.push_back('\f');
        return p + 2;
      case 'n':
        out.push_back('\n');
        return p + 2;
      case 'r':
        out.push_back('\r');
        return p + 2;
      case 't':
        out.push_back('\t');
        return p + 2;
      case 'v':
        out.push_back('\v');
        return p + 2;
      case 'x':
      case 'u':
      case 'U': {
        const size_t n = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        char32_t cp = 0;
        for (size_t i = 0; i < n; ++i) {
          const int v = p + 2 + i < src_.size() ? hex_value(src_[p + 2 + i]) : -1;
          if (v < 0) fail(std::string("truncated \\") + c + " escape", p);
          cp = cp * 16 + static_cast<char32_t>(v);
        }
        if (cp > 0x10FFFF) fail("illegal Unicode character", p);
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // lone surrogates cannot be UTF-8
        unicode::append(out, cp);
        return p + 2 + n;
      }
      case 'N':
        fail("named Unicode escapes (\\N{...}) are not supported", p);
      default:
        break;
    }
    if (c >= '0' && c <= '7') {
      char32_t cp = 0;
      size_t q = p + 1;
      for (int i = 0; i < 3 && q < src_.size() && src_[q] >= '0' && src_[q] <= '7'; ++i, ++q) {
        cp = cp * 8 + static_cast<char32_t>(src_[q] - '0');
      }
      unicode::append(out, cp);
      return q;
    }
    out.push_back('\\');  // unknown escapes stay as written
    return p + 1;
  }

  std::string_view src_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::vector<Token> tokenize(std::string_view source) {
  return Lexer(source).run();
}

void line_column(std::string_view source, size_t offset, size_t* line, size_t* column) {
  offset = std::min(offset, source.size());
  *line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (source[i] == '\n') {
      ++*line;
      line_start = i + 1;
    }
  }
  *column = unicode::length(source.substr(line_start, offset - line_start)) + 1;
}

}  // namespace llm::jinja
