// LlamaModel: the Llama-family decoder (RMSNorm, rotate-half RoPE, grouped-query attention,
// SwiGLU MLP, tied or untied lm_head) written once against the Backend ops.
#pragma once

#include <optional>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/checkpoint.h"
#include "engine/parallel/tensor_parallel_shard.h"

namespace llm {

// One step's inputs, in backend memory. T = tokens in the step, L = rows that want logits.
struct StepInputs {
  Tensor token_ids;       // [T] i32
  Tensor positions;       // [T] i32: position of each token in its sequence
  Tensor slot_mapping;    // [T] i32: cache slot (block * block_size + offset) of each token
  AttentionBatch attn;    // per-sequence layout of the T rows
  Tensor logits_indices;  // [L] i32: rows whose next-token logits are wanted
};

// Scratch activations for up to max_tokens rows, allocated once (no allocation per step). A is
// the backend's activation_dtype(): f32, or 16-bit on a GPU. The residual stream and what is added
// to it stay f32.
struct Workspace {
  int max_tokens = 0;
  OwnedTensor residual;  // [max_tokens, hidden] f32: the residual stream
  OwnedTensor normed;    // [max_tokens, hidden] A: rmsnorm output fed to projections
  OwnedTensor qkv;       // [max_tokens, q_size + 2 * kv_size] A
  OwnedTensor attn_out;  // [max_tokens, q_size] A
  OwnedTensor proj_out;  // [max_tokens, hidden] f32: o_proj / down_proj output
  OwnedTensor gate_up;   // [max_tokens, 2 * intermediate] A
  OwnedTensor mlp_act;   // [max_tokens, intermediate] A
  OwnedTensor last;      // [max_tokens, hidden] A: rows gathered for the lm_head
};

class LlamaModel {
 public:
  // Uploads every weight once, converted to `weight_dtype`: all of them, or with tp_size > 1
  // only rank tp_rank's slices (see TensorParallelShard), whose partial sums the model then
  // all-reduces through the backend. Throws llm::Error when a tensor is missing or has the wrong
  // shape (naming it and its file), or the model cannot be split tp_size ways.
  //
  // Quantized weights (a GGUF file's) stay quantized where the backend computes_on() their type,
  // and are dequantized to `weight_dtype` where it does not. `quantize_to` (--quantization)
  // quantizes the float linear weights to that type as they load; the embedding table stays
  // float.
  LlamaModel(Backend& backend, const Checkpoint& checkpoint, DType weight_dtype, int tp_rank = 0,
             int tp_size = 1, std::optional<DType> quantize_to = std::nullopt);

  const ModelConfig& config() const { return config_; }
  // longrope: added to the positions of a sequence longer than the pretrained context, so RoPE
  // reads the long-factor rows of the table (0 for every other RoPE type).
  int rope_long_offset() const {
    return config_.rope_scaling.type == "longrope" ? config_.max_position_embeddings : 0;
  }
  const TensorParallelShard& shard() const { return shard_; }
  // This rank's view: its own head and MLP sizes (what its KV cache and workspace hold).
  const ModelConfig& local_config() const { return local_; }
  // Bytes of weights this rank holds (tests check a rank holds ~1/size of the model).
  size_t weight_bytes() const { return weight_bytes_; }
  // Of those, the bytes of the matmul weights, which a decode step streams once (the output head
  // included; the embedding table only when it is the tied head).
  size_t matmul_weight_bytes() const { return matmul_weight_bytes_; }
  Workspace make_workspace(int max_tokens) const;
  // Runs one step; writes logits [L, shard().vocab_rows] f32 for the rows in in.logits_indices
  // (the whole vocabulary on a single rank). in.token_ids are shard-local: id - vocab_begin, or
  // -1 for a token another rank's embedding shard holds.
  void forward(const StepInputs& in, const KvCache& cache, Workspace& ws, Tensor logits) const;

 private:
  // Linear weights are [out, in] of the weight dtype, in the backend's matmul layout; sizes are
  // this rank's (local_config()).
  struct Layer {
    OwnedTensor input_norm;  // [hidden]
    OwnedTensor qkv_proj;    // [q_size + 2 * kv_size, hidden]: q_proj, k_proj, v_proj stacked
    OwnedTensor qkv_bias;    // [q_size + 2 * kv_size] f32, when config.qkv_bias
    OwnedTensor q_norm, k_norm;  // [head_dim] f32 each, when config.qk_norm
    OwnedTensor o_proj;      // [hidden, q_size]
    OwnedTensor o_bias;      // [hidden] f32, when config.o_bias
    OwnedTensor attn_out_norm, mlp_out_norm;  // [hidden] f32 each, when config.sandwich_norms
    OwnedTensor post_norm;   // [hidden]
    OwnedTensor gate_up;     // [2 * intermediate, hidden]: gate_proj then up_proj
    OwnedTensor down_proj;   // [hidden, intermediate]
  };
  // Part of a checkpoint tensor: rows [row_begin, +rows) and columns [col_begin, +cols) (-1: all),
  // padded with zero rows up to padded_rows.
  struct Slice {
    int64_t row_begin = 0, rows = -1, col_begin = 0, cols = -1, padded_rows = -1;
  };
  // Uploads the named tensors' slices stacked along their first dimension into one weight.
  OwnedTensor load(const Checkpoint& ck, const std::vector<std::string>& names,
                   const std::vector<std::vector<int64_t>>& shapes,
                   const std::vector<Slice>& slices = {});
  // A loaded linear weight in the backend's matmul layout (`head`: the output head).
  OwnedTensor linear(OwnedTensor w, bool head = false);
  // linear(load(...)) of a weight stacked from parts, which a GGUF mix (Q4_K_M, Q5_K_M) may give
  // different quantized types: the backend joins those as they are where it can
  // (prepare_mixed_linear_weight), else they are dequantized to the float dtype.
  OwnedTensor stacked_linear(const Checkpoint& ck, const std::vector<std::string>& names,
                             const std::vector<std::vector<int64_t>>& shapes,
                             const std::vector<Slice>& slices);
  // The type --quantization gives weight `w` (nullopt: keep its own).
  std::optional<DType> quantization(const OwnedTensor& w, bool head) const;
  // An RMSNorm weight [dim], f32, with config.norm_weight_offset added (Gemma's 1 + w) so every
  // backend's RMSNorm stays x * w.
  OwnedTensor norm(const Checkpoint& ck, const std::string& name, int64_t dim);

  Backend* backend_;
  ModelConfig config_;
  TensorParallelShard shard_;
  ModelConfig local_;
  size_t weight_bytes_ = 0;
  size_t matmul_weight_bytes_ = 0;
  DType dtype_;
  std::optional<DType> quantize_to_;
  AttentionShape attn_shape_;
  OwnedTensor embed_;       // [vocab, hidden], or this rank's [vocab_rows, hidden] shard
  OwnedTensor final_norm_;  // [hidden]
  OwnedTensor lm_head_;     // [vocab, hidden]; empty when tied to embed_ and embed_ serves as is
  OwnedTensor cos_sin_;     // [max_positions, head_dim / 2, 2] f32
  OwnedTensor cos_sin_local_;  // [max_positions, rotary_dim / 2, 2] of the sliding layers, when
                               // they have a RoPE base of their own (Gemma 3)
  float embed_scale_ = 0.f;    // > 0: embeddings are multiplied by it (Gemma)
  std::vector<Layer> layers_;
};

}  // namespace llm
