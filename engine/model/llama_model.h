// LlamaModel: the Llama-family decoder (RMSNorm, rotate-half RoPE, grouped-query attention,
// SwiGLU MLP, tied or untied lm_head) written once against the Backend ops.
#pragma once

#include <vector>

#include "engine/backend/backend.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/checkpoint.h"

namespace llm {

// One step's inputs, in backend memory. T = tokens in the step, L = rows that want logits.
struct StepInputs {
  Tensor token_ids;       // [T] i32
  Tensor positions;       // [T] i32: position of each token in its sequence
  Tensor slot_mapping;    // [T] i32: cache slot (block * block_size + offset) of each token
  AttentionBatch attn;    // per-sequence layout of the T rows
  Tensor logits_indices;  // [L] i32: rows whose next-token logits are wanted
};

// Scratch activations for up to max_tokens rows, allocated once (no allocation per step).
struct Workspace {
  int max_tokens = 0;
  OwnedTensor residual;  // [max_tokens, hidden] f32: the residual stream
  OwnedTensor normed;    // [max_tokens, hidden] f32: rmsnorm output fed to projections
  OwnedTensor qkv;       // [max_tokens, q_size + 2 * kv_size] f32
  OwnedTensor attn_out;  // [max_tokens, q_size] f32
  OwnedTensor proj_out;  // [max_tokens, hidden] f32: o_proj / down_proj output
  OwnedTensor gate_up;   // [max_tokens, 2 * intermediate] f32
  OwnedTensor mlp_act;   // [max_tokens, intermediate] f32
  OwnedTensor last;      // [max_tokens, hidden] f32: rows gathered for the lm_head
};

class LlamaModel {
 public:
  // Uploads every weight once, converted to `weight_dtype`. Throws llm::Error when a tensor is
  // missing or has the wrong shape (naming it and its file).
  LlamaModel(Backend& backend, const Checkpoint& checkpoint, DType weight_dtype);

  const ModelConfig& config() const { return config_; }
  Workspace make_workspace(int max_tokens) const;
  // Runs one step; writes logits [L, vocab] f32 for the rows in in.logits_indices.
  void forward(const StepInputs& in, const KvCache& cache, Workspace& ws, Tensor logits) const;

 private:
  // Linear weights are [out, in] of the weight dtype, in the backend's matmul layout.
  struct Layer {
    OwnedTensor input_norm;  // [hidden]
    OwnedTensor qkv_proj;    // [q_size + 2 * kv_size, hidden]: q_proj, k_proj, v_proj stacked
    OwnedTensor o_proj;      // [hidden, q_size]
    OwnedTensor post_norm;   // [hidden]
    OwnedTensor gate_up;     // [2 * intermediate, hidden]: gate_proj then up_proj
    OwnedTensor down_proj;   // [hidden, intermediate]
  };
  OwnedTensor load(const Checkpoint& ck, const std::vector<std::string>& names,
                   const std::vector<std::vector<int64_t>>& shapes);
  // A loaded linear weight in the backend's matmul layout.
  OwnedTensor linear(OwnedTensor w);

  Backend* backend_;
  ModelConfig config_;
  DType dtype_;
  AttentionShape attn_shape_;
  OwnedTensor embed_;       // [vocab, hidden]
  OwnedTensor final_norm_;  // [hidden]
  OwnedTensor lm_head_;     // [vocab, hidden]; empty when tied to embed_ and embed_ serves as is
  OwnedTensor cos_sin_;     // [max_positions, head_dim / 2, 2] f32
  std::vector<Layer> layers_;
};

}  // namespace llm
