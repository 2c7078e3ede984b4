// TokenMatcher: one sequence's position in its structured-output grammar. Each step it says
// which tokens may come next (a bitmask over the model's vocabulary), and it advances with the
// token the sampler chose. A request's n completions each hold their own, over one compiled
// grammar.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace llm {

struct CompiledGrammar;  // grammar_compiler.h: compiled once per request, shared by its matchers

class TokenMatcher {
 public:
  explicit TokenMatcher(std::shared_ptr<const CompiledGrammar> grammar);
  TokenMatcher(TokenMatcher&&) noexcept;
  TokenMatcher& operator=(TokenMatcher&&) noexcept;
  ~TokenMatcher();

  // Words of a mask for VOCAB_SIZE tokens: bit (id % 32) of word (id / 32) allows token id.
  static size_t mask_words(int vocab_size) { return static_cast<size_t>(vocab_size + 31) / 32; }

  // MASK ([mask_words(vocab)] words) receives the tokens that may come next: those that keep
  // the output a prefix of a match, and the end-of-sequence tokens once it is a whole match.
  void fill_mask(std::span<uint32_t> mask);
  // Advances past TOKEN; false (and no change) when the grammar does not allow it.
  bool accept(int32_t token);
  // An end-of-sequence token has been accepted: the output is complete.
  bool terminated() const;

  // Fills the masks of several matchers at once, on the grammar engine's worker threads (one
  // matcher per thread at a time), so that many constrained sequences do not each wait for the
  // one before. MASKS: [matchers.size(), mask_words(vocab)].
  static void fill_masks(std::span<TokenMatcher* const> matchers, std::span<uint32_t> masks);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llm
