// Normalizers of tokenizer.json (NFC, NFKC, NFD, NFKD, Lowercase, Prepend, Replace, Strip,
// Sequence), applied to each stretch of text between added tokens before pre-tokenization.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/hf/regex.h"

namespace llm::hf {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites TEXT (valid UTF-8) in place.
  virtual void normalize(std::string& text) const = 0;
};

enum class UnicodeForm { kNfc, kNfd, kNfkc, kNfkd };

std::unique_ptr<Normalizer> make_unicode_normalizer(UnicodeForm form);
std::unique_ptr<Normalizer> make_lowercase();
std::unique_ptr<Normalizer> make_prepend(std::string prefix);
// REGEX null: replace every occurrence of LITERAL.
std::unique_ptr<Normalizer> make_replace(std::unique_ptr<RegexMatcher> regex, std::string literal,
                                         std::string content);
std::unique_ptr<Normalizer> make_strip(bool left, bool right);
std::unique_ptr<Normalizer> make_sequence(std::vector<std::unique_ptr<Normalizer>> steps);

// Replaces every match (REGEX) or occurrence (LITERAL) in TEXT by CONTENT; shared with the
// Replace decoder.
std::string replace_all(const std::string& text, const RegexMatcher* regex,
                        const std::string& literal, const std::string& content);

}  // namespace llm::hf
