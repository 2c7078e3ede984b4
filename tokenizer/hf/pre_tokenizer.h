// Pre-tokenizers of tokenizer.json: they cut a piece of (normalized) text into the words the model
// encodes one by one, possibly rewriting them (ByteLevel maps bytes to printable characters,
// Metaspace spaces to "▁"). Semantics follow `tokenizers`' PreTokenizedString: empty pieces are
// dropped at every step.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tokenizer/hf/regex.h"

namespace llm::hf {

// A non-owning callable reference (a std::function without the allocation): pre-tokenizers hand
// each word to the next stage as it is found, so no list of words is ever built.
class PieceSink {
 public:
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, PieceSink>)
      PieceSink(F& f)  // NOLINT(google-explicit-constructor): used like a function parameter
      : object_(&f), call_([](void* o, std::string_view piece, bool at_start) {
          (*static_cast<F*>(o))(piece, at_start);
        }) {}
  // AT_START: the piece begins the input (Metaspace's prepend_scheme "first" reads it).
  void operator()(std::string_view piece, bool at_start) const { call_(object_, piece, at_start); }

 private:
  void* object_;
  void (*call_)(void*, std::string_view, bool);
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits TEXT (non-empty) and hands each non-empty word to SINK, in order.
  virtual void split(std::string_view text, bool at_start, PieceSink sink) const = 0;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A piece of the text and whether it matched the splitting pattern.
struct Part {
  Span span;
  bool is_match = false;
};

// The spans SplitDelimiterBehavior keeps from PARTS (which tile the text), as `tokenizers`'
// NormalizedString::split computes them; empty spans are left out.
void apply_behavior(const std::vector<Part>& parts, SplitBehavior behavior, std::vector<Span>& out);

// The GPT-2 byte-to-character map ("Ġ" for a space), and its inverse (-1 for characters that
// stand for no byte).
const std::string& byte_to_char(unsigned char b);
int char_to_byte(char32_t c);
// Appends the byte-level spelling of TEXT's bytes to OUT.
void append_byte_level(std::string_view text, std::string& out);

std::unique_ptr<PreTokenizer> make_split(std::unique_ptr<RegexMatcher> regex, std::string literal,
                                         SplitBehavior behavior, bool invert);
std::unique_ptr<PreTokenizer> make_byte_level(bool add_prefix_space, bool use_regex);
// prepend_scheme: 0 always, 1 first, 2 never.
std::unique_ptr<PreTokenizer> make_metaspace(std::string replacement, int prepend_scheme,
                                             bool split);
std::unique_ptr<PreTokenizer> make_digits(bool individual_digits);
std::unique_ptr<PreTokenizer> make_punctuation(SplitBehavior behavior);
std::unique_ptr<PreTokenizer> make_whitespace_split();
std::unique_ptr<PreTokenizer> make_bert();
std::unique_ptr<PreTokenizer> make_sequence(std::vector<std::unique_ptr<PreTokenizer>> steps);

}  // namespace llm::hf
