// Post-processors of tokenizer.json for a single sequence: TemplateProcessing (what puts BOS /
// EOS around the ids), Bert/Roberta ([CLS] A [SEP]), ByteLevel (offsets only: ids unchanged),
// Sequence.
#pragma once

#include <memory>
#include <vector>

#include "tokenizer/tokenizer_backend.h"

namespace llm::hf {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // The ids before and after sequence A when special tokens are added.
  virtual void wrap(std::vector<TokenId>& before, std::vector<TokenId>& after) const = 0;
};

// A TemplateProcessing "single" template, reduced to the special ids before and after $A.
std::unique_ptr<PostProcessor> make_template(std::vector<TokenId> before,
                                             std::vector<TokenId> after);
std::unique_ptr<PostProcessor> make_identity();
std::unique_ptr<PostProcessor> make_sequence_processor(
    std::vector<std::unique_ptr<PostProcessor>> steps);

}  // namespace llm::hf
