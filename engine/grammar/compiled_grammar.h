// What GrammarCompiler hands TokenMatcher: private to engine/grammar/ (it names xgrammar).
#pragma once

#include <xgrammar/xgrammar.h>

namespace llm {

struct CompiledGrammar {
  xgrammar::CompiledGrammar grammar;
  int vocab_size = 0;  // the mask's width in tokens
};

}  // namespace llm
