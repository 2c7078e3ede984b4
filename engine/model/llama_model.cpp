#include "engine/model/llama_model.h"

#include <cmath>

#include "llm/error.h"

namespace llm {

LlamaModel::LlamaModel(Backend& backend, const Checkpoint& ck, DType weight_dtype)
    : backend_(&backend), config_(ck.config()), dtype_(weight_dtype) {
  const ModelConfig& c = config_;
  const int64_t D = c.hidden_size, F = c.intermediate_size, Q = c.q_size(), KV = c.kv_size();
  attn_shape_ = {c.num_heads, c.num_kv_heads, c.head_dim, 0,
                 static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)))};

  embed_ = load(ck, {"model.embed_tokens.weight"}, {{c.vocab_size, D}});
  final_norm_ = load(ck, {"model.norm.weight"}, {{D}});
  // Tied checkpoints usually carry no lm_head.weight; when one is present anyway, use it.
  if (!c.tie_word_embeddings || ck.has_tensor("lm_head.weight")) {
    lm_head_ = linear(load(ck, {"lm_head.weight"}, {{c.vocab_size, D}}));
  } else if (auto packed = backend.prepare_linear_weight(embed_.tensor)) {
    lm_head_ = std::move(*packed);  // the gather needs the table row-major, the matmul packed
  }
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Layer layer;
    layer.input_norm = load(ck, {p + "input_layernorm.weight"}, {{D}});
    layer.qkv_proj = linear(load(ck,
                                 {p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                                  p + "self_attn.v_proj.weight"},
                                 {{Q, D}, {KV, D}, {KV, D}}));
    layer.o_proj = linear(load(ck, {p + "self_attn.o_proj.weight"}, {{D, Q}}));
    layer.post_norm = load(ck, {p + "post_attention_layernorm.weight"}, {{D}});
    layer.gate_up =
        linear(load(ck, {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}, {{F, D}, {F, D}}));
    layer.down_proj = linear(load(ck, {p + "mlp.down_proj.weight"}, {{D, F}}));
    layers_.push_back(std::move(layer));
  }

  // cos/sin of position * theta^(-2i/head_dim), computed in double: the angle grows with the
  // position, and f32 angles lose digits that show up in the logits at long contexts.
  const int half = c.head_dim / 2;
  std::vector<float> table(static_cast<size_t>(c.max_position_embeddings) * half * 2);
  for (int pos = 0; pos < c.max_position_embeddings; ++pos) {
    for (int i = 0; i < half; ++i) {
      const double inv_freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.head_dim);
      const double angle = pos * inv_freq;
      table[(static_cast<size_t>(pos) * half + i) * 2] = static_cast<float>(std::cos(angle));
      table[(static_cast<size_t>(pos) * half + i) * 2 + 1] = static_cast<float>(std::sin(angle));
    }
  }
  cos_sin_.buffer = backend.alloc(table.size() * sizeof(float));
  cos_sin_.tensor = cos_sin_.buffer.view(DType::kF32, {c.max_position_embeddings, half, 2});
  backend.copy_from_host(cos_sin_.tensor, table.data());
}

// Uploads the named tensors stacked along their first dimension into one weight.
OwnedTensor LlamaModel::load(const Checkpoint& ck, const std::vector<std::string>& names,
                             const std::vector<std::vector<int64_t>>& shapes) {
  int64_t rows = 0;
  for (const auto& s : shapes) rows += s[0];
  const int64_t cols = shapes[0].size() > 1 ? shapes[0][1] : 1;
  const DType dtype = shapes[0].size() == 1 ? DType::kF32 : dtype_;  // norms stay f32
  OwnedTensor out;
  out.buffer = backend_->alloc(static_cast<size_t>(rows * cols) * dtype_size(dtype));
  out.tensor =
      shapes[0].size() == 1 ? out.buffer.view(dtype, {rows}) : out.buffer.view(dtype, {rows, cols});
  int64_t row = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const TensorView& src = ck.tensor(names[i], shapes[i]);
    Tensor dst = shapes[0].size() == 1 ? out.tensor : out.tensor.rows(row, shapes[i][0]);
    backend_->upload(src, dst);
    row += shapes[i][0];
  }
  return out;
}

OwnedTensor LlamaModel::linear(OwnedTensor w) {
  if (auto prepared = backend_->prepare_linear_weight(w.tensor)) return std::move(*prepared);
  return w;
}

Workspace LlamaModel::make_workspace(int max_tokens) const {
  const ModelConfig& c = config_;
  auto make = [&](int64_t cols) {
    OwnedTensor t;
    t.buffer = backend_->alloc(static_cast<size_t>(max_tokens * cols) * sizeof(float));
    t.tensor = t.buffer.view(DType::kF32, {max_tokens, cols});
    return t;
  };
  Workspace ws;
  ws.max_tokens = max_tokens;
  ws.residual = make(c.hidden_size);
  ws.normed = make(c.hidden_size);
  ws.qkv = make(c.q_size() + 2 * c.kv_size());
  ws.attn_out = make(c.q_size());
  ws.proj_out = make(c.hidden_size);
  ws.gate_up = make(2 * static_cast<int64_t>(c.intermediate_size));
  ws.mlp_act = make(c.intermediate_size);
  ws.last = make(c.hidden_size);
  return ws;
}

void LlamaModel::forward(const StepInputs& in, const KvCache& cache, Workspace& ws,
                         Tensor logits) const {
  const int64_t T = in.token_ids.numel();
  if (T > ws.max_tokens) {
    throw Error(ErrorCode::kInternal, "step of " + std::to_string(T) +
                                          " tokens exceeds the workspace of " +
                                          std::to_string(ws.max_tokens));
  }
  Backend& be = *backend_;
  const float eps = config_.rms_norm_eps;
  AttentionShape shape = attn_shape_;
  shape.block_size = cache.block_size();

  Tensor x = ws.residual.tensor.rows(0, T);
  Tensor h = ws.normed.tensor.rows(0, T);
  Tensor qkv = ws.qkv.tensor.rows(0, T);
  Tensor attn = ws.attn_out.tensor.rows(0, T);
  Tensor proj = ws.proj_out.tensor.rows(0, T);
  Tensor gate_up = ws.gate_up.tensor.rows(0, T);
  Tensor act = ws.mlp_act.tensor.rows(0, T);

  be.embedding(embed_.tensor, in.token_ids, x);
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    // The residual add of the previous sublayer is fused into this norm.
    if (l == 0) {
      be.rmsnorm(x, L.input_norm.tensor, eps, h);
    } else {
      be.add_rmsnorm(x, proj, L.input_norm.tensor, eps, h);
    }
    be.matmul(h, L.qkv_proj.tensor, qkv);
    be.rope(qkv, in.positions, cos_sin_.tensor, shape);
    be.kv_write(qkv, in.slot_mapping, cache.keys(static_cast<int>(l)),
                cache.values(static_cast<int>(l)), shape);
    be.attention(qkv, cache.keys(static_cast<int>(l)), cache.values(static_cast<int>(l)), in.attn,
                 shape, attn);
    be.matmul(attn, L.o_proj.tensor, proj);
    be.add_rmsnorm(x, proj, L.post_norm.tensor, eps, h);
    be.matmul(h, L.gate_up.tensor, gate_up);
    be.silu_mul(gate_up, act);
    be.matmul(act, L.down_proj.tensor, proj);
  }
  // Only the rows that are sampled need the final norm and the (large) lm_head product.
  const int64_t num_logits = in.logits_indices.numel();
  if (num_logits == 0) return;  // a step of non-final prefill chunks: only the KV writes matter
  Tensor last = ws.last.tensor.rows(0, num_logits);
  // The final norm runs over all rows (cheap: hidden-sized) so the residual add stays fused.
  be.add_rmsnorm(x, proj, final_norm_.tensor, eps, h);
  be.embedding(h, in.logits_indices, last);
  be.matmul(last, (lm_head_.buffer.data() ? lm_head_ : embed_).tensor, logits);
}

}  // namespace llm
