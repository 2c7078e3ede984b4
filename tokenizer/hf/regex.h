// The regular expressions of tokenizer.json (Split pre-tokenizer, Replace normalizer/decoder).
// `tokenizers` compiles them with Oniguruma. The three patterns nearly every byte-level
// checkpoint uses (GPT-2, Llama 3, Qwen2) are recognised by their exact text and run by a
// hand-written scanner; every other pattern goes to ICU's regex engine after the few Oniguruma
// escapes whose meaning differs in ICU are rewritten, and a pattern using a construct whose
// meaning we have not pinned down is refused at load rather than approximated.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llm::hf {

struct Span {
  size_t start = 0;
  size_t end = 0;
};

class RegexMatcher {
 public:
  virtual ~RegexMatcher() = default;
  // Appends to OUT the leftmost non-overlapping non-empty matches in TEXT (valid UTF-8), as byte
  // offsets, in order.
  virtual void find_all(std::string_view text, std::vector<Span>& out) const = 0;
};

// The GPT-2 pattern, also ByteLevel's use_regex pattern.
extern const char* const kGpt2Pattern;
extern const char* const kLlama3Pattern;
extern const char* const kQwen2Pattern;

// A matcher for PATTERN (Oniguruma syntax). WHERE names the file and field for errors (kCorruptFile
// for a pattern that does not compile, kUnsupported for one we refuse). ALLOW_FAST: false forces
// ICU even for the known patterns (tests compare the two).
std::unique_ptr<RegexMatcher> make_regex(const std::string& pattern, const std::string& where,
                                         bool allow_fast = true);

// Whether PATTERN is run by the hand-written scanner.
bool has_fast_path(const std::string& pattern);

}  // namespace llm::hf
