// A GGUF file read the way the model definition reads a Hugging Face checkpoint: the
// ModelConfig from its metadata, its tensors under transformers' names and in transformers'
// layouts, and the tokenizer it embeds. llama.cpp's converter (convert_hf_to_gguf.py) made those
// files from Hugging Face checkpoints; this undoes what it changed:
// - names: "blk.3.attn_q.weight" is "model.layers.3.self_attn.q_proj.weight";
// - Llama's q and k rows, which the converter interleaves for llama.cpp's RoPE (pairs of
//   adjacent dimensions), go back to rotate-half order;
// - Gemma's norm weights, stored as 1 + w, are used as they are (norm_weight_offset 0);
// - Llama 3's RoPE, stored as per-frequency divisors (rope_freqs.weight), and Phi-3's long and
//   short factors (rope_factors_long/short.weight) become the config's RoPE scaling.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/model/gguf_file.h"
#include "llm/model_config.h"
#include "tokenizer/gguf_vocab.h"

namespace llm {

class GgufModel {
 public:
  // Opens and maps `path`. Throws llm::Error naming the file: kUnsupported for an architecture
  // other than llama, qwen2, qwen3, phi3, gemma2, gemma3 (naming it) or a RoPE scaling type we do
  // not compute; kCorruptFile for missing or inconsistent hyperparameters.
  static GgufModel open(const std::filesystem::path& path);
  // The same over a file already parsed (tests).
  static GgufModel from_file(GgufFile file);

  const ModelConfig& config() const { return config_; }
  const GgufVocab& vocab() const { return vocab_; }
  const std::filesystem::path& path() const { return file_.path(); }
  // Tensors by their transformers name; views into the mapping, or into copies this object
  // holds where the layout changed.
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }

 private:
  explicit GgufModel(GgufFile file) : file_(std::move(file)) {}
  GgufFile file_;
  ModelConfig config_;
  GgufVocab vocab_;
  std::map<std::string, TensorView> tensors_;
  std::vector<std::vector<std::byte>> owned_;  // bytes of the tensors whose layout changed
};

}  // namespace llm
