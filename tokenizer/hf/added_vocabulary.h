// tokenizer.json's added_tokens, found in the text before the model sees it, as `tokenizers`'
// AddedVocabulary does: leftmost-longest matches, single_word / lstrip / rstrip applied to each
// match, tokens with "normalized": false matched in the raw text and the others in the
// normalized text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/hf/normalizer.h"
#include "tokenizer/tokenizer_backend.h"

namespace llm::hf {

struct AddedToken {
  std::string content;
  TokenId id = 0;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// A stretch of text: an added token (id >= 0) or plain text (id -1).
struct Segment {
  size_t start = 0;
  size_t end = 0;
  TokenId id = -1;
};

class AddedVocabulary {
 public:
  // NORMALIZER (may be null) rewrites the content of tokens with "normalized": true, which are
  // then looked for in normalized text.
  AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // Cuts TEXT into plain stretches and added tokens, looking for the tokens whose "normalized"
  // flag is NORMALIZED. Plain stretches may be empty.
  void split(std::string_view text, bool normalized, std::vector<Segment>& out) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  struct Pattern {
    std::string text;
    size_t token;  // index into tokens_
  };
  // Per first byte, the patterns starting with it, longest first.
  struct Set {
    std::vector<std::vector<Pattern>> by_first_byte = std::vector<std::vector<Pattern>>(256);
    bool empty = true;
  };
  void add(Set& set, std::string text, size_t token);

  std::vector<AddedToken> tokens_;
  Set raw_;
  Set normalized_;
};

}  // namespace llm::hf
