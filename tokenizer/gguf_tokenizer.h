// The backend behind Tokenizer::from_gguf: a GGUF file's embedded vocabulary (gguf_vocab.h) turned
// into the tokenizer the model was trained with, as llama.cpp reads the same metadata.
//   "gpt2":  byte-level BPE, built as the tokenizer.json pipeline (hf/) that the Hugging Face
//            tokenizer of the named pre-tokenizer has, so ids and text equal `tokenizers`'.
//   "llama": SentencePiece BPE over the scores, loaded from a ModelProto built in memory.
#pragma once

#include <memory>

#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tokenizer_backend.h"

namespace llm {

// Throws llm::Error: kUnsupported for a tokenizer model or pre-tokenizer not implemented here
// (naming it), kCorruptFile for a vocabulary that contradicts itself (empty, array sizes that
// disagree, unknown token types, repeated tokens, special ids out of range, a merge naming a
// token that does not exist).
std::unique_ptr<TokenizerBackend> make_gguf_backend(const GgufVocab& vocab);

}  // namespace llm
