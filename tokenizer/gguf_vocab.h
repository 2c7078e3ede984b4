// The tokenizer a GGUF file embeds (its tokenizer.ggml.* metadata), as plain data: the engine
// reads it out of the file (engine/model/gguf_file.h), Tokenizer::from_gguf builds a tokenizer
// from it, so the tokenizer library needs no GGUF reader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llm {

struct GgufVocab {
  // tokenizer.ggml.model: "llama" (SentencePiece-style BPE over scores, "▁" for spaces, <0xNN>
  // byte pieces) or "gpt2" (byte-level BPE with merges). Others are refused.
  std::string model;
  // tokenizer.ggml.pre: the pre-tokenizer of a gpt2 vocabulary ("llama-bpe", "qwen2", "default",
  // ...), as llama.cpp names them; empty for "llama".
  std::string pre;
  std::vector<std::string> tokens;  // tokenizer.ggml.tokens [vocab]
  std::vector<float> scores;        // tokenizer.ggml.scores [vocab], or empty
  // tokenizer.ggml.token_type [vocab], llama.cpp's values: 1 normal, 2 unknown, 3 control,
  // 4 user-defined, 5 unused, 6 byte. Empty: all normal.
  std::vector<int32_t> token_types;
  std::vector<std::string> merges;  // tokenizer.ggml.merges ("a b" per line), gpt2 only
  int32_t bos_id = -1;              // tokenizer.ggml.bos_token_id; -1 when absent
  int32_t eos_id = -1;              // tokenizer.ggml.eos_token_id
  int32_t unknown_id = -1;          // tokenizer.ggml.unknown_token_id
  int32_t padding_id = -1;          // tokenizer.ggml.padding_token_id
  std::optional<bool> add_bos;      // tokenizer.ggml.add_bos_token, when the file says
  std::optional<bool> add_eos;      // tokenizer.ggml.add_eos_token
  std::optional<bool> add_space_prefix;  // tokenizer.ggml.add_space_prefix ("llama" only)
  std::string chat_template;        // tokenizer.chat_template, or empty
};

}  // namespace llm
