#include "tokenizer/hf/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/normalizer2.h>
#include <unicode/uniset.h>

#include "llm/error.h"
#include "tokenizer/hf/unicode.h"

namespace llm::hf {

std::string replace_all(const std::string& text, const RegexMatcher* regex,
                        const std::string& literal, const std::string& content) {
  std::vector<Span> matches;
  if (regex) {
    regex->find_all(text, matches);
  } else if (!literal.empty()) {
    for (size_t at = text.find(literal); at != std::string::npos;
         at = text.find(literal, at + literal.size())) {
      matches.push_back({at, at + literal.size()});
    }
  }
  if (matches.empty()) return text;
  std::string out;
  size_t prev = 0;
  for (const Span& m : matches) {
    out.append(text, prev, m.start - prev);
    out += content;
    prev = m.end;
  }
  out.append(text, prev, std::string::npos);
  return out;
}

namespace {

void check(UErrorCode status, const char* what) {
  if (U_FAILURE(status)) {
    throw Error(ErrorCode::kInternal, std::string("ICU ") + what + ": " + u_errorName(status));
  }
}

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) {
    UErrorCode status = U_ZERO_ERROR;
    switch (form) {
      case UnicodeForm::kNfc:
        n_ = icu::Normalizer2::getNFCInstance(status);
        break;
      case UnicodeForm::kNfd:
        n_ = icu::Normalizer2::getNFDInstance(status);
        break;
      case UnicodeForm::kNfkc:
        n_ = icu::Normalizer2::getNFKCInstance(status);
        break;
      case UnicodeForm::kNfkd:
        n_ = icu::Normalizer2::getNFKDInstance(status);
        break;
    }
    check(status, "normalizer");
    // `tokenizers` normalizes with the tables of Unicode 9.0 (its unicode-normalization-
    // alignments crate): characters assigned later are neither decomposed, composed nor
    // reordered. Normalization stability makes that exactly ICU's normalizer restricted to
    // the characters assigned by 9.0, the others passing through as boundaries.
    auto* set = new icu::UnicodeSet(icu::UnicodeString::fromUTF8("[:age=9.0:]"), status);
    check(status, "normalizer set");
    set->freeze();
    set_.reset(set);
    filtered_ = std::make_unique<icu::FilteredNormalizer2>(*n_, *set_);
  }

  void normalize(std::string& text) const override {
    UErrorCode status = U_ZERO_ERROR;
    // Most text is already normalized; the quick check costs far less than rewriting.
    if (filtered_->isNormalizedUTF8(text, status) && U_SUCCESS(status)) return;
    status = U_ZERO_ERROR;
    std::string out;
    icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
    filtered_->normalizeUTF8(0, text, sink, nullptr, status);
    check(status, "normalize");
    text = std::move(out);
  }

 private:
  const icu::Normalizer2* n_ = nullptr;
  std::unique_ptr<icu::UnicodeSet> set_;
  std::unique_ptr<icu::FilteredNormalizer2> filtered_;
};

// Rust's str::to_lowercase: full Unicode lower-casing with the final-sigma rule, which is what
// ICU's root-locale lower-casing does.
class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    UErrorCode status = U_ZERO_ERROR;
    std::string out;
    icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
    icu::CaseMap::utf8ToLower("", 0, text, sink, nullptr, status);
    check(status, "lowercase");
    text = std::move(out);
  }
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::unique_ptr<RegexMatcher> regex, std::string literal, std::string content)
      : regex_(std::move(regex)), literal_(std::move(literal)), content_(std::move(content)) {}
  void normalize(std::string& text) const override {
    text = replace_all(text, regex_.get(), literal_, content_);
  }

 private:
  std::unique_ptr<RegexMatcher> regex_;
  std::string literal_;
  std::string content_;
};

// Rust's trim_start / trim_end: White_Space characters.
class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0;
    size_t end = text.size();
    if (left_) {
      while (begin < end) {
        size_t pos = begin;
        if (!is_whitespace(next_code_point(text, &pos))) break;
        begin = pos;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        size_t pos = start;
        if (!is_whitespace(next_code_point(text, &pos))) break;
        end = start;
      }
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_;
  bool right_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_unicode_normalizer(UnicodeForm form) {
  return std::make_unique<UnicodeNormalizer>(form);
}
std::unique_ptr<Normalizer> make_lowercase() {
  return std::make_unique<LowercaseNormalizer>();
}
std::unique_ptr<Normalizer> make_prepend(std::string prefix) {
  return std::make_unique<PrependNormalizer>(std::move(prefix));
}
std::unique_ptr<Normalizer> make_replace(std::unique_ptr<RegexMatcher> regex, std::string literal,
                                         std::string content) {
  return std::make_unique<ReplaceNormalizer>(std::move(regex), std::move(literal),
                                             std::move(content));
}
std::unique_ptr<Normalizer> make_strip(bool left, bool right) {
  return std::make_unique<StripNormalizer>(left, right);
}
std::unique_ptr<Normalizer> make_sequence(std::vector<std::unique_ptr<Normalizer>> steps) {
  return std::make_unique<SequenceNormalizer>(std::move(steps));
}

}  // namespace llm::hf
