// Shape and conventions of a Llama-family decoder, read from a Hugging Face config.json.
#pragma once

#include <string>
#include <vector>

#include "llm/dtype.h"

namespace llm {

// How RoPE's frequencies are made: transformers' rope_type and the parameters it reads (see
// engine/model/rope.cpp for the formulas).
struct RopeScaling {
  // default | linear | dynamic (NTK; within the context it is default) | llama3 | yarn |
  // longrope, or freq_factors: each frequency divided by its
  // short_factor entry (a GGUF file's rope_freqs.weight, how llama.cpp stores Llama 3's scaling)
  std::string type = "default";
  double factor = 1.0;                                   // linear, llama3, yarn
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int original_max_position_embeddings = 0;   // llama3, yarn (0: max_position_embeddings)
  double beta_fast = 32.0, beta_slow = 1.0;   // yarn: the ramp between the two
  double attention_factor = 0.0;              // yarn: cos/sin scale; 0: from factor and mscale
  double mscale = 0.0, mscale_all_dim = 0.0;  // yarn
  bool truncate = true;                       // yarn: round the correction range outwards
  // longrope (Phi-3's "su"): per-frequency divisors [rotary_dim / 2], the short ones while a
  // sequence fits original_max_position_embeddings, the long ones once it is longer.
  std::vector<double> short_factor, long_factor;
};

struct ModelConfig {
  std::string architecture;  // LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, ...
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;  // == num_heads when config.json omits num_key_value_heads
  int head_dim = 0;      // hidden_size / num_heads unless config.json gives head_dim
  int rotary_dim = 0;    // leading dimensions of a head RoPE rotates (partial_rotary_factor)
  int vocab_size = 0;
  int max_position_embeddings = 0;  // the context; sliding layers still see only their window
  int sliding_window = 0;            // > 0: the window of the layers that slide
  std::vector<bool> sliding_layers;  // [num_layers], or empty: no layer slides
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  // What sets one family apart from Llama; LlamaModel::forward reads them.
  bool qkv_bias = false;  // q/k/v projections carry biases (Qwen2; attention_bias)
  bool o_bias = false;    // o_proj carries one (attention_bias of Llama and Qwen3)
  bool qk_norm = false;   // RMSNorm of each query and key head before RoPE (Qwen3)
  bool fused_projections = false;  // qkv_proj and gate_up_proj in the checkpoint (Phi-3)
  // Gemma 2/3 (zero or false for the other families):
  float norm_weight_offset = 0.f;   // RMSNorm scales by (offset + w): 1 for Gemma
  bool sandwich_norms = false;      // attention and MLP outputs normalised before the residual add
  bool scale_embeddings = false;    // embeddings times sqrt(hidden), in the weights' dtype
  bool gelu_mlp = false;            // GeGLU with the tanh GELU instead of SwiGLU
  float attention_scale = 0.f;      // 0: 1/sqrt(head_dim); Gemma: query_pre_attn_scalar^-1/2
  float attn_logit_softcap = 0.f;   // > 0: attention scores soft-capped (Gemma 2)
  float final_logit_softcap = 0.f;  // > 0: logits soft-capped (Gemma 2)
  float rope_local_theta = 0.f;     // > 0: the sliding layers' RoPE base, unscaled (Gemma 3)
  int bos_token_id = -1;            // -1: none
  std::vector<int> eos_token_ids;   // config.json's, extended by generation_config.json's list
  DType torch_dtype = DType::kF32;  // the checkpoint's declared dtype

  // The attention window of `layer` (0: the whole context).
  int window_of(int layer) const {
    return layer < static_cast<int>(sliding_layers.size()) && sliding_layers[layer] ? sliding_window
                                                                                    : 0;
  }
  int q_size() const { return num_heads * head_dim; }
  int kv_size() const { return num_kv_heads * head_dim; }
};

}  // namespace llm
