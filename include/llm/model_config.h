// Shape and conventions of a Llama-family decoder, read from a Hugging Face config.json.
#pragma once

#include <string>
#include <vector>

#include "llm/dtype.h"

namespace llm {

struct ModelConfig {
  std::string architecture;  // "LlamaForCausalLM" or "MistralForCausalLM"
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;  // == num_heads when config.json omits num_key_value_heads
  int head_dim = 0;      // hidden_size / num_heads unless config.json gives head_dim
  int vocab_size = 0;
  int max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  bool tie_word_embeddings = false;
  int bos_token_id = -1;            // -1: none
  std::vector<int> eos_token_ids;   // config.json's, extended by generation_config.json's list
  DType torch_dtype = DType::kF32;  // the checkpoint's declared dtype

  int q_size() const { return num_heads * head_dim; }
  int kv_size() const { return num_kv_heads * head_dim; }
};

}  // namespace llm
