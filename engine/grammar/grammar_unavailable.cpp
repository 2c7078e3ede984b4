// GrammarCompiler and TokenMatcher in a build without a grammar engine
// (-DLLM_STRUCTURED_OUTPUT=OFF): every structured-output request is refused, naming why.
#include "engine/grammar/grammar_compiler.h"
#include "engine/grammar/token_matcher.h"
#include "llm/error.h"

namespace llm {

struct CompiledGrammar {};
struct GrammarCompiler::Impl {};
struct TokenMatcher::Impl {};

GrammarCompiler::GrammarCompiler(const Tokenizer& tokenizer, int vocab_size,
                                 std::vector<int32_t> stop_ids)
    : tokenizer_(tokenizer), vocab_size_(vocab_size), stop_ids_(std::move(stop_ids)) {}
GrammarCompiler::~GrammarCompiler() = default;
bool GrammarCompiler::available() {
  return false;
}
std::shared_ptr<const CompiledGrammar> GrammarCompiler::compile(const StructuredOutput& spec) {
  throw Error(ErrorCode::kUnsupported,
              "this server was built without structured output (LLM_STRUCTURED_OUTPUT=OFF)",
              spec.param);
}

// Unreachable: no grammar is ever compiled.
TokenMatcher::TokenMatcher(std::shared_ptr<const CompiledGrammar>) {}
TokenMatcher::TokenMatcher(TokenMatcher&&) noexcept = default;
TokenMatcher& TokenMatcher::operator=(TokenMatcher&&) noexcept = default;
TokenMatcher::~TokenMatcher() = default;
void TokenMatcher::fill_mask(std::span<uint32_t>) {}
bool TokenMatcher::accept(int32_t) {
  return false;
}
bool TokenMatcher::terminated() const {
  return false;
}
void TokenMatcher::fill_masks(std::span<TokenMatcher* const>, std::span<uint32_t>) {}

}  // namespace llm
