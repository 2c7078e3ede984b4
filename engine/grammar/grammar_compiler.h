// GrammarCompiler: turns a request's StructuredOutput (a JSON schema, a regex, a list of
// choices, an EBNF grammar, a structural tag) into a grammar over one model's token
// vocabulary, which TokenMatcher then walks. The grammar engine is xgrammar (cmake/xgrammar.cmake
// says where it comes from; bench/xgrammar_mask.sh measured it): it precomputes, per grammar
// state, which of the vocabulary's tokens can follow, so that a step's mask costs microseconds
// even at 150k tokens.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "llm/sampling_params.h"
#include "tokenizer/tokenizer.h"

namespace llm {

struct CompiledGrammar;

class GrammarCompiler {
 public:
  // VOCAB_SIZE: the model's logits width (the tokenizer's vocabulary padded, possibly);
  // STOP_IDS: the tokens that end a completion, allowed where the output is complete. The
  // tokenizer must outlive the compiler. Cheap: the vocabulary is read on first use.
  GrammarCompiler(const Tokenizer& tokenizer, int vocab_size, std::vector<int32_t> stop_ids);
  ~GrammarCompiler();

  // Whether this build has a grammar engine (cmake -DLLM_STRUCTURED_OUTPUT=OFF builds none).
  static bool available();

  // Thread-safe; compiled grammars are cached by spec. Throws llm::Error(kInvalidArgument,
  // param spec.param) naming what is unsupported or malformed (JSON Schema keywords outside
  // json_schema_subset.h's subset, regex syntax, grammar syntax), or kUnsupported when the
  // build has no grammar engine.
  std::shared_ptr<const CompiledGrammar> compile(const StructuredOutput& spec);

 private:
  struct Impl;
  Impl& impl();  // built on first use: reading a 150k-token vocabulary takes ~0.1 s

  const Tokenizer& tokenizer_;
  int vocab_size_;
  std::vector<int32_t> stop_ids_;
  std::once_flag once_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llm
