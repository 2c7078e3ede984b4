#include "tokenizer/hf/regex.h"

#include <unicode/regex.h>
#include <unicode/utext.h>

#include "llm/error.h"
#include "tokenizer/hf/unicode.h"

namespace llm::hf {

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

// The text being scanned, decoded once: code points, their classes, their byte offsets.
struct Scan {
  std::vector<char32_t> cps;
  std::vector<uint8_t> cls;
  std::vector<size_t> offsets;  // one more than cps: the text's end
  size_t n = 0;

  void load(std::string_view text) {
    cps.clear();
    cls.clear();
    offsets.clear();
    for (size_t pos = 0; pos < text.size();) {
      offsets.push_back(pos);
      const char32_t cp = next_code_point(text, &pos);
      cps.push_back(cp);
      cls.push_back(char_class(cp));
    }
    offsets.push_back(text.size());
    n = cps.size();
  }
  size_t run(size_t j, CharClass c) const {
    while (j < n && cls[j] == c) ++j;
    return j;
  }
};

bool is_newline(char32_t c) {
  return c == '\r' || c == '\n';
}

// Simple case folding onto the letters of the contractions. In Unicode's CaseFolding.txt the
// only non-ASCII character folding to one of s, t, r, e, v, m, l, d is U+017F LATIN SMALL LETTER
// LONG S (to s), and no character folds to a two-letter sequence of them.
char32_t fold(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c == 0x17F) return 's';
  return c;
}

// The GPT-2 family of patterns, scanned by hand. Every character matches one alternative at its
// own position (it is a letter, a number, white space or none of these), so the matches tile the
// text and each step returns the end of the match that starts at I, taking the alternatives in
// order with the backtracking the regex engine would do.
class KnownPatternMatcher final : public RegexMatcher {
 public:
  // llama_style: Llama 3 / Qwen2 (case-insensitive contractions, one optional non-letter before
  // letters, [\r\n]* after punctuation, \s*[\r\n]+); else GPT-2. max_digits: 0 = unbounded.
  KnownPatternMatcher(bool llama_style, size_t max_digits)
      : llama_(llama_style), max_digits_(max_digits) {}

  void find_all(std::string_view text, std::vector<Span>& out) const override {
    thread_local Scan s;
    s.load(text);
    for (size_t i = 0; i < s.n;) {
      const size_t j = llama_ ? llama_match(s, i) : gpt2_match(s, i);
      out.push_back({s.offsets[i], s.offsets[j]});
      i = j;
    }
  }

 private:
  // 's|'t|'re|'ve|'m|'ll|'d (under (?i) for the Llama style): the end, or 0.
  size_t contraction_end(const Scan& s, size_t i) const {
    if (s.cps[i] != '\'' || i + 1 >= s.n) return 0;
    const auto at = [&](size_t k) { return llama_ ? fold(s.cps[k]) : s.cps[k]; };
    const char32_t a = at(i + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 < s.n) {
      const char32_t b = at(i + 2);
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    return 0;
  }

  // \s*[\r\n]+|\s+(?!\S)|\s+ at I, a white-space character (only the last two for GPT-2).
  size_t whitespace_match(const Scan& s, size_t i) const {
    const size_t e = s.run(i, kWhitespace);
    if (llama_) {
      // \s* gives back characters until [\r\n]+ can match: the match ends after the last
      // newline of the run.
      for (size_t k = e; k > i; --k) {
        if (is_newline(s.cps[k - 1])) return k;
      }
    }
    // \s+(?!\S): the whole run at the text's end, else all but its last character (which
    // then starts the next word's match); a single space before a non-space is \s+ alone.
    if (e == s.n || e - i == 1) return e;
    return e - 1;
  }

  size_t llama_match(const Scan& s, size_t i) const {
    if (const size_t e = contraction_end(s, i)) return e;
    const char32_t c = s.cps[i];
    const auto k = static_cast<CharClass>(s.cls[i]);
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (k == kLetter) return s.run(i + 1, kLetter);
    if (k != kNumber && !is_newline(c) && i + 1 < s.n && s.cls[i + 1] == kLetter) {
      return s.run(i + 2, kLetter);
    }
    // \p{N}{1,3} or \p{N}
    if (k == kNumber) {
      size_t j = i + 1;
      while (j < s.n && s.cls[j] == kNumber && (max_digits_ == 0 || j - i < max_digits_)) ++j;
      return j;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    size_t p = i;
    if (c == ' ' && i + 1 < s.n && s.cls[i + 1] == kOther) p = i + 1;
    if (s.cls[p] == kOther) {
      size_t j = s.run(p + 1, kOther);
      while (j < s.n && is_newline(s.cps[j])) ++j;
      return j;
    }
    return whitespace_match(s, i);
  }

  size_t gpt2_match(const Scan& s, size_t i) const {
    if (const size_t e = contraction_end(s, i)) return e;
    // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': a space joins the run of non-space
    // characters of one class that follows it.
    size_t p = i;
    if (s.cps[i] == ' ' && i + 1 < s.n && s.cls[i + 1] != kWhitespace) p = i + 1;
    const auto k = static_cast<CharClass>(s.cls[p]);
    if (k != kWhitespace) return s.run(p + 1, k);
    return whitespace_match(s, i);
  }

  bool llama_;
  size_t max_digits_;
};

// Oniguruma syntax rewritten for ICU. \s and \S differ (ICU: [\t\n\f\r\p{Z}], Oniguruma: the
// White_Space property, which also has \v and U+0085), so they are spelled as the property.
// Escapes and constructs whose Oniguruma meaning (under the options `tokenizers` uses) we have
// not checked against ICU are refused.
std::string to_icu_syntax(const std::string& pattern, const std::string& where) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      switch (e) {
        case 's':
          out += "\\p{White_Space}";
          break;
        case 'S':
          out += "\\P{White_Space}";
          break;
        case 'w':
        case 'W':
        case 'd':
        case 'D':
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'R':
        case 'X':
        case 'A':
        case 'z':
        case 'Z':
        case 'G':
        case 'K':
        case 'g':
        case 'k':
          throw Error(ErrorCode::kUnsupported, where + ": regex escape \\" + std::string(1, e) +
                                                   " is not supported (pattern " + pattern + ")");
        default:
          out += c;
          out += e;
      }
      continue;
    }
    if (in_class) {
      if (c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
        throw Error(ErrorCode::kUnsupported,
                    where + ": POSIX bracket classes are not supported (pattern " + pattern + ")");
      }
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal in both syntaxes.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    } else if (c == '.' || c == '^' || c == '$') {
      // ICU's '.' also refuses \r, U+0085, U+2028/9; anchors differ in multi-line handling.
      throw Error(ErrorCode::kUnsupported, where + ": regex construct '" + std::string(1, c) +
                                               "' is not supported (pattern " + pattern + ")");
    }
    out += c;
  }
  return out;
}

class IcuMatcher final : public RegexMatcher {
 public:
  IcuMatcher(const std::string& pattern, const std::string& where) {
    UErrorCode status = U_ZERO_ERROR;
    UParseError parse_error{};
    const std::string icu = to_icu_syntax(pattern, where);
    pattern_.reset(
        icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(icu), 0, parse_error, status));
    if (U_FAILURE(status)) {
      throw Error(ErrorCode::kCorruptFile,
                  where + ": regex " + pattern + " does not compile (" + u_errorName(status) + ")");
    }
  }

  void find_all(std::string_view text, std::vector<Span>& out) const override {
    UErrorCode status = U_ZERO_ERROR;
    UText* ut = utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status);
    std::unique_ptr<icu::RegexMatcher> m(pattern_->matcher(status));
    if (U_FAILURE(status)) {
      utext_close(ut);
      throw Error(ErrorCode::kInternal, std::string("ICU regex: ") + u_errorName(status));
    }
    m->reset(ut);
    // With UTF-8 text, ICU's indexes are byte offsets (native indexes).
    while (m->find(status) && U_SUCCESS(status)) {
      const auto start = static_cast<size_t>(m->start64(status));
      const auto end = static_cast<size_t>(m->end64(status));
      if (end > start) out.push_back({start, end});
    }
    m.reset();
    utext_close(ut);
    if (U_FAILURE(status)) {
      throw Error(ErrorCode::kInternal, std::string("ICU regex: ") + u_errorName(status));
    }
  }

 private:
  std::unique_ptr<icu::RegexPattern> pattern_;
};

}  // namespace

bool has_fast_path(const std::string& pattern) {
  return pattern == kGpt2Pattern || pattern == kLlama3Pattern || pattern == kQwen2Pattern;
}

std::unique_ptr<RegexMatcher> make_regex(const std::string& pattern, const std::string& where,
                                         bool allow_fast) {
  if (allow_fast) {
    if (pattern == kGpt2Pattern) return std::make_unique<KnownPatternMatcher>(false, 0);
    if (pattern == kLlama3Pattern) return std::make_unique<KnownPatternMatcher>(true, 3);
    if (pattern == kQwen2Pattern) return std::make_unique<KnownPatternMatcher>(true, 1);
  }
  return std::make_unique<IcuMatcher>(pattern, where);
}

}  // namespace llm::hf
