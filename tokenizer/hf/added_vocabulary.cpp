#include "tokenizer/hf/added_vocabulary.h"

#include <unicode/uchar.h>

#include <algorithm>

#include "tokenizer/hf/unicode.h"

namespace llm::hf {
namespace {

// \w as the regex crate (and Unicode's UTS #18) defines it: checked against `tokenizers`, whose
// single_word test treats letters, digits of any script, '_' and combining marks as word
// characters.
bool is_word_char(char32_t c) {
  const auto cp = static_cast<UChar32>(c);
  if (u_hasBinaryProperty(cp, UCHAR_ALPHABETIC) || u_hasBinaryProperty(cp, UCHAR_JOIN_CONTROL)) {
    return true;
  }
  return (U_GET_GC_MASK(cp) & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0;
}

char32_t last_char(std::string_view s) {
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  return next_code_point(s, &start);
}

// Byte offset where TEXT's trailing white space starts.
size_t trailing_space_start(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    size_t pos = start;
    if (!is_whitespace(next_code_point(text, &pos))) break;
    end = start;
  }
  return end;
}

size_t leading_space_length(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = pos;
    if (!is_whitespace(next_code_point(text, &next))) break;
    pos = next;
  }
  return pos;
}

}  // namespace

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (t.normalized) {
      std::string content = t.content;
      if (normalizer) normalizer->normalize(content);
      add(normalized_, std::move(content), i);
    } else {
      add(raw_, t.content, i);
    }
  }
  for (Set* set : {&raw_, &normalized_}) {
    for (auto& list : set->by_first_byte) {
      // Longest first; among equal contents the first added wins, as in the automaton.
      std::stable_sort(list.begin(), list.end(), [](const Pattern& a, const Pattern& b) {
        return a.text.size() > b.text.size();
      });
    }
  }
}

void AddedVocabulary::add(Set& set, std::string text, size_t token) {
  if (text.empty()) return;
  const auto first = static_cast<unsigned char>(text[0]);
  set.by_first_byte[first].push_back({std::move(text), token});
  set.empty = false;
}

void AddedVocabulary::split(std::string_view text, bool normalized,
                            std::vector<Segment>& out) const {
  const Set& set = normalized ? normalized_ : raw_;
  size_t start_offset = 0;
  if (!set.empty) {
    for (size_t i = 0; i < text.size();) {
      const auto& candidates = set.by_first_byte[static_cast<unsigned char>(text[i])];
      const Pattern* hit = nullptr;
      for (const Pattern& p : candidates) {
        if (text.compare(i, p.text.size(), p.text) == 0) {
          hit = &p;
          break;
        }
      }
      if (!hit) {
        ++i;
        continue;
      }
      size_t start = i;
      size_t stop = i + hit->text.size();
      // The automaton moves past a match even when it is then discarded.
      i = stop;
      const AddedToken& token = tokens_[hit->token];
      if (token.single_word) {
        const bool start_space = start == 0 || !is_word_char(last_char(text.substr(0, start)));
        size_t after = stop;
        const bool stop_space = stop == text.size() || !is_word_char(next_code_point(text, &after));
        if (!start_space || !stop_space) continue;
      }
      if (token.lstrip) {
        // Spaces an earlier match already took stay with it.
        start = std::max(trailing_space_start(text.substr(0, start)), start_offset);
      }
      if (token.rstrip) stop += leading_space_length(text.substr(stop));
      if (start_offset < start) out.push_back({start_offset, start, -1});
      out.push_back({start, stop, token.id});
      start_offset = stop;
    }
  }
  if (start_offset != text.size() || text.empty()) out.push_back({start_offset, text.size(), -1});
}

}  // namespace llm::hf
