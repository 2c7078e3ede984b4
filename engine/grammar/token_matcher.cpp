#include "engine/grammar/token_matcher.h"

#include <dlpack/dlpack.h>

#include "engine/grammar/compiled_grammar.h"
#include "llm/error.h"

namespace llm {
namespace {

// A [rows, words] int32 tensor over MASK, as the grammar engine writes masks.
struct MaskTensor {
  int64_t shape[2];
  DLTensor t;
  MaskTensor(std::span<uint32_t> mask, size_t rows) {
    shape[0] = static_cast<int64_t>(rows);
    shape[1] = static_cast<int64_t>(mask.size() / rows);
    t = DLTensor{mask.data(),
                 DLDevice{kDLCPU, 0},
                 rows == 1 ? 1 : 2,
                 DLDataType{kDLInt, 32, 1},
                 rows == 1 ? shape + 1 : shape,
                 nullptr,
                 0};
  }
};

}  // namespace

struct TokenMatcher::Impl {
  std::shared_ptr<const CompiledGrammar> grammar;
  xgrammar::GrammarMatcher matcher;
  explicit Impl(std::shared_ptr<const CompiledGrammar> g)
      : grammar(std::move(g)), matcher(grammar->grammar) {}
};

TokenMatcher::TokenMatcher(std::shared_ptr<const CompiledGrammar> grammar)
    : impl_(std::make_unique<Impl>(std::move(grammar))) {}
TokenMatcher::TokenMatcher(TokenMatcher&&) noexcept = default;
TokenMatcher& TokenMatcher::operator=(TokenMatcher&&) noexcept = default;
TokenMatcher::~TokenMatcher() = default;

void TokenMatcher::fill_mask(std::span<uint32_t> mask) {
  if (mask.size() != mask_words(impl_->grammar->vocab_size)) {
    throw Error(ErrorCode::kInternal, "token mask of the wrong size");
  }
  MaskTensor t(mask, 1);
  impl_->matcher.FillNextTokenBitmask(&t.t);
}

bool TokenMatcher::accept(int32_t token) {
  return impl_->matcher.AcceptToken(token);
}

bool TokenMatcher::terminated() const {
  return impl_->matcher.IsTerminated();
}

void TokenMatcher::fill_masks(std::span<TokenMatcher* const> matchers, std::span<uint32_t> masks) {
  if (matchers.empty()) return;
  // Starting the engine's workers costs more than a few masks.
  constexpr size_t kBatchFrom = 4;
  const size_t words = masks.size() / matchers.size();
  if (matchers.size() < kBatchFrom) {
    for (size_t i = 0; i < matchers.size(); ++i)
      matchers[i]->fill_mask(masks.subspan(i * words, words));
    return;
  }
  // Handles: each shares its matcher's state.
  std::vector<xgrammar::GrammarMatcher> handles;
  for (TokenMatcher* m : matchers) handles.push_back(m->impl_->matcher);
  thread_local xgrammar::BatchGrammarMatcher batch("auto");  // it keeps per-call state
  MaskTensor t(masks, matchers.size());
  batch.BatchFillNextTokenBitmask(&handles, &t.t);
}

}  // namespace llm
