// A Hugging Face model directory: config.json (+ generation_config.json) and every tensor of
// model.safetensors or of the shards listed in model.safetensors.index.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/model/safetensors_file.h"
#include "llm/model_config.h"

namespace llm {

// Parses config.json (and generation_config.json when present, whose eos_token_id may be a
// list). Throws llm::Error naming the file: kNotFound, kCorruptFile (malformed JSON, missing or
// mistyped field, inconsistent numbers), kUnsupported (architecture other than
// LlamaForCausalLM / MistralForCausalLM, unknown torch_dtype).
ModelConfig load_model_config(const std::filesystem::path& model_dir);

class Checkpoint {
 public:
  // Opens the directory: config plus all safetensors files, mapped. Throws llm::Error.
  static Checkpoint open(const std::filesystem::path& model_dir);

  const ModelConfig& config() const { return config_; }
  const std::filesystem::path& dir() const { return dir_; }

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
};

}  // namespace llm
