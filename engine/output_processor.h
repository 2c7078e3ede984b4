// OutputProcessor: turns each sampled token into a CompletionEvent. It detokenizes
// incrementally, holds back text that may be the start of a stop string (so no part of a stop
// string is ever emitted), and decides when a sequence finishes and why.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "engine/sequence.h"

namespace llm {

class OutputProcessor {
 public:
  // tokenizer_vocab: ids at or past it (a model's padded vocabulary) add no text.
  OutputProcessor(std::vector<int32_t> eos_ids, int tokenizer_vocab)
      : eos_ids_(std::move(eos_ids)), tokenizer_vocab_(tokenizer_vocab) {}

  // `token` has just been appended to seq.tokens. Fills ev (token id, text delta) and returns
  // the finish reason when this token ends the sequence.
  std::optional<FinishReason> process(Sequence& seq, int32_t token, CompletionEvent& ev) const;

  // Length of the longest suffix of `text` that is a proper prefix of one of `stops`.
  static size_t stop_prefix_suffix(std::string_view text, std::span<const std::string> stops);

  std::span<const int32_t> eos_ids() const { return eos_ids_; }

 private:
  std::vector<int32_t> eos_ids_;
  int tokenizer_vocab_;
};

}  // namespace llm
