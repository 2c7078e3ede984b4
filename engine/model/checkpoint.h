// The weights and shape of a model: a Hugging Face model directory (config.json +
// generation_config.json, and every tensor of model.safetensors or of the shards listed in
// model.safetensors.index.json), or a GGUF file read as one (engine/model/gguf_model.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/gguf_model.h"
#include "engine/model/safetensors_file.h"
#include "llm/model_config.h"

namespace llm {

// Parses config.json (and generation_config.json when present, whose eos_token_id may be a
// list); for a GGUF file, its metadata (GgufModel). Throws llm::Error naming the file: kNotFound,
// kCorruptFile (malformed JSON, missing or mistyped field, inconsistent numbers), kUnsupported
// (architecture other than LlamaForCausalLM / MistralForCausalLM, unknown torch_dtype).
ModelConfig load_model_config(const std::filesystem::path& model_dir);

class Checkpoint {
 public:
  // Opens the directory (config plus all safetensors files, mapped) or the GGUF file `path`
  // names. Throws llm::Error.
  static Checkpoint open(const std::filesystem::path& path);

  const ModelConfig& config() const { return config_; }
  const std::filesystem::path& dir() const { return dir_; }
  // The tokenizer a GGUF file embeds; nullptr for a directory (its tokenizer files say).
  const GgufVocab* gguf_vocab() const { return gguf_vocab_ ? &*gguf_vocab_ : nullptr; }

  // The tensor `name` with exactly `shape`; throws llm::Error (kCorruptFile) naming the
  // tensor, its file and the expected vs actual shape, or saying it is missing.
  const TensorView& tensor(const std::string& name, const std::vector<int64_t>& shape) const;
  bool has_tensor(const std::string& name) const;

  // Unmaps the tensor files, keeping the config: call once the backends hold their own copies.
  // A mapping kept for the engine's lifetime would pin as much again as the weights in RSS and
  // keep a replaced model file's blocks on disk. Afterwards no tensor is found.
  void release_tensors();

 private:
  ModelConfig config_;
  std::filesystem::path dir_;
  std::vector<SafetensorsFile> files_;
  // Which of files_ holds each tensor: every tensor of a single file, or the index's weight_map.
  std::map<std::string, size_t> owner_;
  std::optional<GgufModel> gguf_;  // a GGUF file's tensors, under transformers' names
  std::optional<GgufVocab> gguf_vocab_;
};

}  // namespace llm
