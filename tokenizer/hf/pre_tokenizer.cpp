#include "tokenizer/hf/pre_tokenizer.h"

#include <algorithm>
#include <array>

#include "tokenizer/hf/unicode.h"

namespace llm::hf {

void apply_behavior(const std::vector<Part>& parts, SplitBehavior behavior,
                    std::vector<Span>& out) {
  std::vector<Span> acc;
  acc.reserve(parts.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Part& p : parts) acc.push_back(p.span);
      break;
    case SplitBehavior::kRemoved:
      for (const Part& p : parts) {
        if (!p.is_match) acc.push_back(p.span);
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Part& p : parts) {
        if (p.is_match && !previous_match && !acc.empty()) {
          acc.back().end = p.span.end;
        } else {
          acc.push_back(p.span);
        }
        previous_match = p.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->is_match && !previous_match && !acc.empty()) {
          acc.back().start = it->span.start;
        } else {
          acc.push_back(it->span);
        }
        previous_match = it->is_match;
      }
      std::reverse(acc.begin(), acc.end());
      break;
    case SplitBehavior::kContiguous:
      for (const Part& p : parts) {
        if (p.is_match == previous_match && !acc.empty()) {
          acc.back().end = p.span.end;
        } else {
          acc.push_back(p.span);
        }
        previous_match = p.is_match;
      }
      break;
  }
  for (const Span& s : acc) {
    if (s.end > s.start) out.push_back(s);
  }
}

namespace {

// `tokenizers`' Pattern for a char predicate: every matching character is a match of its own.
template <class Pred>
void char_parts(std::string_view text, Pred pred, std::vector<Part>& parts) {
  size_t last = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const char32_t cp = next_code_point(text, &pos);
    if (!pred(cp)) continue;
    if (last < start) parts.push_back({{last, start}, false});
    parts.push_back({{start, pos}, true});
    last = pos;
  }
  if (last < text.size()) parts.push_back({{last, text.size()}, false});
}

void emit_spans(std::string_view text, bool at_start, const std::vector<Span>& spans,
                PieceSink sink) {
  for (const Span& s : spans) {
    sink(text.substr(s.start, s.end - s.start), at_start && s.start == 0);
  }
}

template <class Pred>
void split_on_chars(std::string_view text, bool at_start, Pred pred, SplitBehavior behavior,
                    PieceSink sink) {
  std::vector<Part> parts;
  char_parts(text, pred, parts);
  std::vector<Span> spans;
  apply_behavior(parts, behavior, spans);
  emit_spans(text, at_start, spans, sink);
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<RegexMatcher> regex, std::string literal,
                    SplitBehavior behavior, bool invert)
      : regex_(std::move(regex)),
        literal_(std::move(literal)),
        behavior_(behavior),
        invert_(invert) {}

  void split(std::string_view text, bool at_start, PieceSink sink) const override {
    std::vector<Span> matches;
    if (regex_) {
      regex_->find_all(text, matches);
    } else if (!literal_.empty()) {
      for (size_t at = text.find(literal_); at != std::string_view::npos;
           at = text.find(literal_, at + literal_.size())) {
        matches.push_back({at, at + literal_.size()});
      }
    }
    // The pieces between matches, flagged; Invert swaps the flags.
    std::vector<Part> parts;
    parts.reserve(matches.size() * 2 + 1);
    size_t prev = 0;
    for (const Span& m : matches) {
      if (prev != m.start) parts.push_back({{prev, m.start}, invert_});
      parts.push_back({m, !invert_});
      prev = m.end;
    }
    if (prev != text.size()) parts.push_back({{prev, text.size()}, invert_});
    if (behavior_ == SplitBehavior::kIsolated) {
      // Every piece is kept as it is: no need to build the span list.
      for (const Part& p : parts) {
        sink(text.substr(p.span.start, p.span.end - p.span.start), at_start && p.span.start == 0);
      }
      return;
    }
    std::vector<Span> spans;
    apply_behavior(parts, behavior_, spans);
    emit_spans(text, at_start, spans, sink);
  }

 private:
  std::unique_ptr<RegexMatcher> regex_;  // null: split on LITERAL
  std::string literal_;
  SplitBehavior behavior_;
  bool invert_;
};

const std::array<std::string, 256>& byte_chars() {
  static const std::array<std::string, 256> table = [] {
    // GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others for
    // U+0100 onwards in byte order.
    std::array<std::string, 256> t;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      append_utf8(t[static_cast<size_t>(b)], printable ? static_cast<char32_t>(b) : next++);
    }
    return t;
  }();
  return table;
}

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        regex_(use_regex ? make_regex(kGpt2Pattern, "ByteLevel") : nullptr) {}

  void split(std::string_view text, bool at_start, PieceSink sink) const override {
    std::string prefixed;
    if (add_prefix_space_ && text.front() != ' ') {
      prefixed = " ";
      prefixed += text;
      text = prefixed;
    }
    std::string mapped;
    if (!regex_) {
      append_byte_level(text, mapped);
      sink(mapped, at_start);
      return;
    }
    std::vector<Span> matches;
    regex_->find_all(text, matches);
    for (const Span& m : matches) {
      mapped.clear();
      append_byte_level(text.substr(m.start, m.end - m.start), mapped);
      sink(mapped, at_start && m.start == 0);
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<RegexMatcher> regex_;  // the GPT-2 pattern covers the text: no gaps to keep
};

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, int prepend_scheme, bool split)
      : replacement_(std::move(replacement)), prepend_scheme_(prepend_scheme), split_(split) {
    size_t pos = 0;
    replacement_cp_ = replacement_.empty() ? 0 : next_code_point(replacement_, &pos);
  }

  void split(std::string_view text, bool at_start, PieceSink sink) const override {
    std::string s;
    s.reserve(text.size() + replacement_.size());
    for (const char c : text) {
      if (c == ' ') {
        s += replacement_;
      } else {
        s += c;
      }
    }
    const bool prepend = prepend_scheme_ == 0 || (prepend_scheme_ == 1 && at_start);
    if (prepend && !s.starts_with(replacement_)) s.insert(0, replacement_);
    if (!split_) {
      sink(s, at_start);
      return;
    }
    const char32_t r = replacement_cp_;
    split_on_chars(
        s, at_start, [r](char32_t c) { return c == r; }, SplitBehavior::kMergedWithNext, sink);
  }

 private:
  std::string replacement_;
  char32_t replacement_cp_ = 0;
  int prepend_scheme_;
  bool split_;
};

class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void split(std::string_view text, bool at_start, PieceSink sink) const override {
    split_on_chars(text, at_start, is_numeric,
                   individual_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous, sink);
  }

 private:
  bool individual_;
};

// `tokenizers`' is_bert_punc: ASCII punctuation (which includes symbols such as $ + < = > ^ ` |
// ~) or a character of a Unicode punctuation category.
bool is_bert_punctuation(char32_t c) {
  const bool ascii = c < 128 && ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) ||
                                 (c >= 91 && c <= 96) || (c >= 123 && c <= 126));
  return ascii || is_punctuation(c);
}

class PunctuationPreTokenizer final : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(SplitBehavior behavior) : behavior_(behavior) {}
  void split(std::string_view text, bool at_start, PieceSink sink) const override {
    split_on_chars(text, at_start, is_bert_punctuation, behavior_, sink);
  }

 private:
  SplitBehavior behavior_;
};

class WhitespaceSplitPreTokenizer final : public PreTokenizer {
 public:
  void split(std::string_view text, bool at_start, PieceSink sink) const override {
    split_on_chars(text, at_start, is_whitespace, SplitBehavior::kRemoved, sink);
  }
};

class BertPreTokenizer final : public PreTokenizer {
 public:
  void split(std::string_view text, bool at_start, PieceSink sink) const override {
    auto punct = [&](std::string_view piece, bool start) {
      split_on_chars(piece, start, is_bert_punctuation, SplitBehavior::kIsolated, sink);
    };
    split_on_chars(text, at_start, is_whitespace, SplitBehavior::kRemoved, PieceSink(punct));
  }
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void split(std::string_view text, bool at_start, PieceSink sink) const override {
    run(0, text, at_start, sink);
  }

 private:
  void run(size_t k, std::string_view text, bool at_start, PieceSink sink) const {
    if (k == steps_.size()) {
      sink(text, at_start);
      return;
    }
    auto next = [&](std::string_view piece, bool start) { run(k + 1, piece, start, sink); };
    steps_[k]->split(text, at_start, PieceSink(next));
  }
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

const std::string& byte_to_char(unsigned char b) {
  return byte_chars()[b];
}

int char_to_byte(char32_t c) {
  static const std::array<int16_t, 512> table = [] {
    std::array<int16_t, 512> t;
    t.fill(-1);
    for (int b = 0; b < 256; ++b) {
      size_t pos = 0;
      t[next_code_point(byte_chars()[static_cast<size_t>(b)], &pos)] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return c < 512 ? table[c] : -1;
}

void append_byte_level(std::string_view text, std::string& out) {
  const auto& table = byte_chars();
  for (const char c : text) out += table[static_cast<unsigned char>(c)];
}

std::unique_ptr<PreTokenizer> make_split(std::unique_ptr<RegexMatcher> regex, std::string literal,
                                         SplitBehavior behavior, bool invert) {
  return std::make_unique<SplitPreTokenizer>(std::move(regex), std::move(literal), behavior,
                                             invert);
}
std::unique_ptr<PreTokenizer> make_byte_level(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, use_regex);
}
std::unique_ptr<PreTokenizer> make_metaspace(std::string replacement, int prepend_scheme,
                                             bool split) {
  return std::make_unique<MetaspacePreTokenizer>(std::move(replacement), prepend_scheme, split);
}
std::unique_ptr<PreTokenizer> make_digits(bool individual_digits) {
  return std::make_unique<DigitsPreTokenizer>(individual_digits);
}
std::unique_ptr<PreTokenizer> make_punctuation(SplitBehavior behavior) {
  return std::make_unique<PunctuationPreTokenizer>(behavior);
}
std::unique_ptr<PreTokenizer> make_whitespace_split() {
  return std::make_unique<WhitespaceSplitPreTokenizer>();
}
std::unique_ptr<PreTokenizer> make_bert() {
  return std::make_unique<BertPreTokenizer>();
}
std::unique_ptr<PreTokenizer> make_sequence(std::vector<std::unique_ptr<PreTokenizer>> steps) {
  return std::make_unique<SequencePreTokenizer>(std::move(steps));
}

}  // namespace llm::hf
