// Structured-output specs through the JSON Schema subset check and the grammar compiler, then a
// short walk of the compiled grammar. The first byte picks the kind (JSON schema, regex, EBNF,
// choices, structural tag); the rest up to a "\n--\n" separator is the spec, and the bytes after
// it pick tokens among those the mask allows. A spec either compiles or fails with an
// llm::Error(kInvalidArgument); every token the mask allows must be accepted; a compiled
// grammar must allow some token until it has accepted EOS.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/grammar/grammar_compiler.h"
#include "engine/grammar/token_matcher.h"
#include "llm/error.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using llm::StructuredOutput;
  if (size < 1) return 0;
  const llm::Tokenizer& tok = llm::fuzz::tokenizer();
  static llm::GrammarCompiler compiler(tok, tok.vocab_size(), {tok.eos_id()});
  static const StructuredOutput::Kind kKinds[] = {
      StructuredOutput::Kind::kJsonSchema,    StructuredOutput::Kind::kRegex,
      StructuredOutput::Kind::kGrammar,       StructuredOutput::Kind::kChoice,
      StructuredOutput::Kind::kStructuralTag, StructuredOutput::Kind::kJsonObject};
  const auto kind = kKinds[data[0] % std::size(kKinds)];
  const llm::fuzz::Split parts = llm::fuzz::split(data + 1, size - 1, "\n--\n");
  std::shared_ptr<const llm::CompiledGrammar> grammar;
  try {
    grammar = compiler.compile(StructuredOutput{kind, std::string(parts.first), "response_format"});
  } catch (const llm::Error& e) {
    if (e.code() != llm::ErrorCode::kInvalidArgument || e.param() != "response_format")
      std::abort();
    return 0;
  }
  llm::TokenMatcher m(grammar);
  std::vector<uint32_t> mask(llm::TokenMatcher::mask_words(tok.vocab_size()));
  for (size_t step = 0; step < 32 && !m.terminated(); ++step) {
    m.fill_mask(mask);
    std::vector<int32_t> allowed;
    for (int32_t id = 0; id < tok.vocab_size(); ++id) {
      if (mask[static_cast<size_t>(id) / 32] >> (id % 32) & 1u) allowed.push_back(id);
    }
    if (allowed.empty()) std::abort();  // a live grammar always allows something (EOS at least)
    const uint8_t pick = step < parts.second.size() ? static_cast<uint8_t>(parts.second[step]) : 0;
    if (!m.accept(allowed[pick % allowed.size()])) std::abort();
  }
  return 0;
}
