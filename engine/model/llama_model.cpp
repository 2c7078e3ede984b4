#include "engine/model/llama_model.h"

#include <cmath>
#include <cstring>

#include "engine/model/rope.h"
#include "kernels/cpu/cpu_kernels.h"
#include "llm/error.h"

namespace llm {

LlamaModel::LlamaModel(Backend& backend, const Checkpoint& ck, DType weight_dtype, int tp_rank,
                       int tp_size, std::optional<DType> quantize_to)
    : backend_(&backend),
      config_(ck.config()),
      shard_(TensorParallelShard::make(ck.config(), tp_rank, tp_size)),
      local_(shard_.local_config(ck.config())),
      dtype_(weight_dtype),
      quantize_to_(quantize_to) {
  if (quantize_to && !backend.computes_on(*quantize_to)) {
    throw Error(ErrorCode::kUnsupported,
                "the " + backend.name() + " backend cannot compute on " +
                    std::string(dtype_name(*quantize_to)) +
                    " weights, so it cannot quantize this model (use the cpu backend)");
  }
  const ModelConfig& c = config_;
  const TensorParallelShard& s = shard_;
  const int64_t D = c.hidden_size, F = c.intermediate_size, Q = c.q_size(), KV = c.kv_size();
  const int64_t hd = c.head_dim, Fl = s.intermediate;
  attn_shape_ = {s.num_heads,
                 s.num_kv_heads,
                 c.head_dim,
                 0,
                 c.attention_scale > 0
                     ? c.attention_scale
                     : static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim))),
                 0,
                 c.attn_logit_softcap};
  if (c.scale_embeddings) {
    // sqrt(hidden) as transformers multiplies it: in the activations' (the weights') dtype.
    const float root = static_cast<float>(std::sqrt(static_cast<double>(c.hidden_size)));
    embed_scale_ = weight_dtype == DType::kBF16  ? cpu::bf16_to_f32(cpu::f32_to_bf16(root))
                   : weight_dtype == DType::kF16 ? cpu::f16_to_f32(cpu::f32_to_f16(root))
                                                 : root;
  }
  // Column-parallel weights keep this rank's rows; row-parallel ones its columns.
  const Slice q_rows{s.rank * s.num_heads * hd, s.num_heads * hd};
  const Slice kv_rows{s.first_kv_head * hd, s.num_kv_heads * hd};
  const Slice q_cols{0, -1, s.rank * s.num_heads * hd, s.num_heads * hd};
  const Slice f_rows{s.rank * Fl, Fl};
  const Slice f_cols{0, -1, s.rank * Fl, Fl};
  const Slice vocab{s.vocab_begin, s.vocab_valid, 0, -1, s.vocab_rows};

  embed_ = load(ck, {"model.embed_tokens.weight"}, {{c.vocab_size, D}}, {vocab});
  final_norm_ = norm(ck, "model.norm.weight", D);
  // Tied checkpoints usually carry no lm_head.weight; when one is present anyway, use it.
  if (!c.tie_word_embeddings || ck.has_tensor("lm_head.weight")) {
    lm_head_ = linear(load(ck, {"lm_head.weight"}, {{c.vocab_size, D}}, {vocab}), /*head=*/true);
  } else if (auto packed =
                 backend.prepare_linear_weight(embed_.tensor, quantization(embed_, true))) {
    lm_head_ = std::move(*packed);  // the gather needs the table row-major, the matmul packed
    weight_bytes_ += lm_head_.buffer.bytes();
    matmul_weight_bytes_ += lm_head_.buffer.bytes();
  } else {
    matmul_weight_bytes_ += embed_.buffer.bytes();  // the table itself serves as the head
  }
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Layer layer;
    layer.input_norm = norm(ck, p + "input_layernorm.weight", D);
    // Phi-3 stores q/k/v (and gate/up) as one fused tensor: the same rows, read at offsets.
    if (c.fused_projections) {
      const std::string qkv = p + "self_attn.qkv_proj.weight";
      const Slice k_rows{Q + kv_rows.row_begin, kv_rows.rows}, v_rows{Q + KV + kv_rows.row_begin, kv_rows.rows};
      layer.qkv_proj = linear(load(ck, {qkv, qkv, qkv}, {{Q + 2 * KV, D}, {Q + 2 * KV, D}, {Q + 2 * KV, D}},
                                   {q_rows, k_rows, v_rows}));
    } else {
      layer.qkv_proj = stacked_linear(ck,
                                      {p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                                       p + "self_attn.v_proj.weight"},
                                      {{Q, D}, {KV, D}, {KV, D}}, {q_rows, kv_rows, kv_rows});
    }
    if (c.qkv_bias) {
      layer.qkv_bias = load(ck, {p + "self_attn.q_proj.bias", p + "self_attn.k_proj.bias",
                                 p + "self_attn.v_proj.bias"},
                            {{Q}, {KV}, {KV}}, {q_rows, kv_rows, kv_rows});
    }
    if (c.qk_norm) {
      layer.q_norm = norm(ck, p + "self_attn.q_norm.weight", hd);
      layer.k_norm = norm(ck, p + "self_attn.k_norm.weight", hd);
    }
    layer.o_proj = linear(load(ck, {p + "self_attn.o_proj.weight"}, {{D, Q}}, {q_cols}));
    // Row-parallel: the bias is added once, after the ranks' partial sums are reduced.
    if (c.o_bias) layer.o_bias = load(ck, {p + "self_attn.o_proj.bias"}, {{D}});
    // Gemma names the pre-MLP norm pre_feedforward_layernorm; its post_attention_layernorm
    // normalises the attention output.
    if (c.sandwich_norms) {
      layer.attn_out_norm = norm(ck, p + "post_attention_layernorm.weight", D);
      layer.post_norm = norm(ck, p + "pre_feedforward_layernorm.weight", D);
      layer.mlp_out_norm = norm(ck, p + "post_feedforward_layernorm.weight", D);
    } else {
      layer.post_norm = norm(ck, p + "post_attention_layernorm.weight", D);
    }
    if (c.fused_projections) {
      const std::string gate_up = p + "mlp.gate_up_proj.weight";
      const Slice up_rows{F + f_rows.row_begin, f_rows.rows};
      layer.gate_up = linear(load(ck, {gate_up, gate_up}, {{2 * F, D}, {2 * F, D}}, {f_rows, up_rows}));
    } else {
      layer.gate_up = stacked_linear(ck, {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"},
                                     {{F, D}, {F, D}}, {f_rows, f_rows});
    }
    layer.down_proj = linear(load(ck, {p + "mlp.down_proj.weight"}, {{D, F}}, {f_cols}));
    layers_.push_back(std::move(layer));
  }

  const int half = c.rotary_dim / 2;
  // longrope: the short-factor rows, then the long-factor ones at rope_long_offset().
  std::vector<float> table = rope_table(c);
  if (c.rope_scaling.type == "longrope") {
    const std::vector<float> long_rows = rope_table(c, /*long_factors=*/true);
    table.insert(table.end(), long_rows.begin(), long_rows.end());
  }
  const int64_t table_rows = static_cast<int64_t>(table.size()) / (2 * half);
  cos_sin_.buffer = backend.alloc(table.size() * sizeof(float));
  cos_sin_.tensor = cos_sin_.buffer.view(DType::kF32, {table_rows, half, 2});
  backend.copy_from_host(cos_sin_.tensor, table.data());
  if (c.rope_local_theta > 0) {
    ModelConfig local = c;  // the sliding layers' RoPE: their own base, no scaling
    local.rope_theta = c.rope_local_theta;
    local.rope_scaling = {};
    const std::vector<float> local_table = rope_table(local);
    cos_sin_local_.buffer = backend.alloc(local_table.size() * sizeof(float));
    cos_sin_local_.tensor =
        cos_sin_local_.buffer.view(DType::kF32, {c.max_position_embeddings, half, 2});
    backend.copy_from_host(cos_sin_local_.tensor, local_table.data());
  }
}

namespace {

// A view of part of a checkpoint tensor: the mapped bytes themselves when the part is whole rows,
// else a copy into `storage` (columns of a row-parallel weight, zero rows padding a shard).
// Quantized tensors are cut between blocks only (columns at multiples of the block size).
TensorView slice_view(const TensorView& t, int64_t row_begin, int64_t rows, int64_t col_begin,
                      int64_t cols, int64_t padded_rows, std::vector<std::byte>& storage) {
  const int64_t C = t.shape.size() > 1 ? t.shape[1] : 1;
  const int64_t block = dtype_block_elems(t.dtype);
  if (col_begin % block != 0 || cols % block != 0) {
    throw Error(ErrorCode::kUnsupported,
                "tensor '" + t.name + "' (" + std::string(dtype_name(t.dtype)) +
                    ") cannot be split at column " + std::to_string(col_begin) + " + " +
                    std::to_string(cols) + ": its blocks hold " + std::to_string(block) +
                    " columns (try another --tensor-parallel-size)");
  }
  const size_t row_bytes = dtype_row_bytes(t.dtype, C), out_row = dtype_row_bytes(t.dtype, cols);
  TensorView v = t;
  v.shape[0] = padded_rows;
  if (t.shape.size() > 1) v.shape[1] = cols;
  if (cols == C && padded_rows == rows) {
    v.data = t.data.subspan(static_cast<size_t>(row_begin) * row_bytes,
                            static_cast<size_t>(rows) * row_bytes);
    return v;
  }
  // Zero bytes are zeros in every type (a quantized block with scale 0).
  storage.assign(static_cast<size_t>(padded_rows) * out_row, std::byte{0});
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(storage.data() + static_cast<size_t>(r) * out_row,
                t.data.data() + static_cast<size_t>(row_begin + r) * row_bytes +
                    dtype_row_bytes(t.dtype, col_begin),
                out_row);
  }
  v.data = storage;
  return v;
}

}  // namespace

OwnedTensor LlamaModel::load(const Checkpoint& ck, const std::vector<std::string>& names,
                             const std::vector<std::vector<int64_t>>& shapes,
                             const std::vector<Slice>& slices) {
  // Resolve each part's extent: slices default to the whole tensor.
  std::vector<Slice> parts(names.size());
  int64_t rows = 0, cols = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    Slice sl = i < slices.size() ? slices[i] : Slice{};
    if (sl.rows < 0) sl.rows = shapes[i][0] - sl.row_begin;
    if (sl.cols < 0) sl.cols = (shapes[i].size() > 1 ? shapes[i][1] : 1) - sl.col_begin;
    if (sl.padded_rows < sl.rows) sl.padded_rows = sl.rows;
    parts[i] = sl;
    rows += sl.padded_rows;
    cols = sl.cols;
  }
  const bool is_1d = shapes[0].size() == 1;
  DType dtype = is_1d ? DType::kF32 : dtype_;  // norms stay f32
  // A quantized weight keeps its type where the backend computes on it (all parts alike).
  const DType first = ck.tensor(names[0], shapes[0]).dtype;
  bool same = true;
  for (size_t i = 1; i < names.size(); ++i)
    same = same && ck.tensor(names[i], shapes[i]).dtype == first;
  if (!is_1d && same && dtype_is_quantized(first) && backend_->computes_on(first)) dtype = first;
  OwnedTensor out;
  out.buffer = backend_->alloc(static_cast<size_t>(rows) * dtype_row_bytes(dtype, cols));
  out.tensor = is_1d ? out.buffer.view(dtype, {rows}) : out.buffer.view(dtype, {rows, cols});
  weight_bytes_ += out.buffer.bytes();
  int64_t row = 0;
  std::vector<std::byte> storage;
  for (size_t i = 0; i < names.size(); ++i) {
    const Slice& sl = parts[i];
    const TensorView src = slice_view(ck.tensor(names[i], shapes[i]), sl.row_begin, sl.rows,
                                      sl.col_begin, sl.cols, sl.padded_rows, storage);
    backend_->upload({src.data, src.dtype, src.name}, out.tensor.rows(row, sl.padded_rows));
    row += sl.padded_rows;
  }
  return out;
}

OwnedTensor LlamaModel::norm(const Checkpoint& ck, const std::string& name, int64_t dim) {
  OwnedTensor w = load(ck, {name}, {{dim}});
  if (config_.norm_weight_offset == 0) return w;
  std::vector<float> host(static_cast<size_t>(dim));  // [dim]
  backend_->copy_to_host(host.data(), w.tensor);
  backend_->synchronize();
  for (float& v : host) v += config_.norm_weight_offset;
  backend_->copy_from_host(w.tensor, host.data());
  return w;
}

std::optional<DType> LlamaModel::quantization(const OwnedTensor& w, bool head) const {
  // A GGUF file's quantized weights stay as they are. The output head is the most sensitive
  // matmul (llama.cpp's Q4_0 files keep it at 6 bits), so int4 leaves it at 8 bits.
  if (!quantize_to_ || dtype_is_quantized(w.tensor.dtype)) return std::nullopt;
  return head && *quantize_to_ == DType::kQ4_0 ? DType::kQ8_0 : *quantize_to_;
}

OwnedTensor LlamaModel::linear(OwnedTensor w, bool head) {
  auto prepared = backend_->prepare_linear_weight(w.tensor, quantization(w, head));
  if (!prepared) {
    matmul_weight_bytes_ += w.buffer.bytes();
    return w;
  }
  matmul_weight_bytes_ += prepared->buffer.bytes();
  // The packed copy replaces the row-major one, which is freed on return.
  weight_bytes_ += prepared->buffer.bytes();
  weight_bytes_ -= w.buffer.bytes();
  return std::move(*prepared);
}

OwnedTensor LlamaModel::stacked_linear(const Checkpoint& ck, const std::vector<std::string>& names,
                                       const std::vector<std::vector<int64_t>>& shapes,
                                       const std::vector<Slice>& slices) {
  bool mixed = false;
  for (size_t i = 0; i < names.size(); ++i) {
    const DType t = ck.tensor(names[i], shapes[i]).dtype;
    if (!dtype_is_quantized(t) || !backend_->computes_on(t))
      return linear(load(ck, names, shapes, slices));
    mixed = mixed || t != ck.tensor(names[0], shapes[0]).dtype;
  }
  if (!mixed) return linear(load(ck, names, shapes, slices));
  std::vector<OwnedTensor> parts;  // each part as the file has it
  std::vector<Tensor> views;
  size_t part_bytes = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    parts.push_back(load(ck, {names[i]}, {shapes[i]}, {slices[i]}));
    views.push_back(parts.back().tensor);
    part_bytes += parts.back().buffer.bytes();
  }
  weight_bytes_ -= part_bytes;  // freed on return either way
  if (auto joined = backend_->prepare_mixed_linear_weight(views)) {
    weight_bytes_ += joined->buffer.bytes();
    matmul_weight_bytes_ += joined->buffer.bytes();
    return std::move(*joined);
  }
  parts.clear();
  return linear(load(ck, names, shapes, slices));
}

Workspace LlamaModel::make_workspace(int max_tokens) const {
  const ModelConfig& c = local_;
  // The dequantizing GEMMs (a GGUF file's weights, --quantization) take f32 activations.
  bool quantized = lm_head_.buffer.data() && dtype_is_quantized(lm_head_.tensor.dtype);
  for (const Layer& L : layers_) {
    for (const OwnedTensor* w : {&L.qkv_proj, &L.o_proj, &L.gate_up, &L.down_proj}) {
      quantized = quantized || dtype_is_quantized(w->tensor.dtype);
    }
  }
  if (!lm_head_.buffer.data()) quantized = quantized || dtype_is_quantized(embed_.tensor.dtype);
  const DType act = quantized ? DType::kF32 : backend_->activation_dtype(dtype_);
  auto make = [&](int64_t cols, DType t) {
    OwnedTensor o;
    o.buffer = backend_->alloc(static_cast<size_t>(max_tokens * cols) * dtype_size(t));
    o.tensor = o.buffer.view(t, {max_tokens, cols});
    return o;
  };
  Workspace ws;
  ws.max_tokens = max_tokens;
  ws.residual = make(c.hidden_size, DType::kF32);
  ws.normed = make(c.hidden_size, act);
  ws.qkv = make(c.q_size() + 2 * c.kv_size(), act);
  ws.attn_out = make(c.q_size(), act);
  ws.proj_out = make(c.hidden_size, DType::kF32);
  ws.gate_up = make(2 * static_cast<int64_t>(c.intermediate_size), act);
  ws.mlp_act = make(c.intermediate_size, act);
  ws.last = make(c.hidden_size, act);
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

  // Partial results of this rank's slices become whole ones (no-op on a single rank).
  const bool split = shard_.size > 1;
  be.embedding(embed_.tensor, in.token_ids, x);
  if (split) be.all_reduce_sum(x);  // each token's row came from one rank, zeros from the rest
  if (embed_scale_ > 0) be.scale(x, embed_scale_);
  // A sublayer's output projection reaches the residual stream x in one of two ways: added in the
  // GEMM itself where the backend can and nothing comes between (a split's all-reduce, a bias, a
  // sandwich norm), or written to proj and added by the next norm, which fuses the add.
  bool proj_pending = false;  // proj holds an output not yet added to x
  auto project = [&](Tensor input, const Tensor& w, const OwnedTensor& bias,
                     const OwnedTensor& out_norm) {
    const bool direct = !split && !bias.buffer.data() && !out_norm.buffer.data();
    if (direct && be.matmul_accumulate(input, w, x)) {
      proj_pending = false;
      return;
    }
    be.matmul(input, w, proj);
    if (split) be.all_reduce_sum(proj);
    if (bias.buffer.data()) be.add_bias(proj, bias.tensor);
    if (out_norm.buffer.data()) be.rmsnorm(proj, out_norm.tensor, eps, proj);
    proj_pending = true;
  };
  auto norm_into_h = [&](const OwnedTensor& weight) {
    if (proj_pending) {
      be.add_rmsnorm(x, proj, weight.tensor, eps, h);
    } else {
      be.rmsnorm(x, weight.tensor, eps, h);
    }
  };
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    norm_into_h(L.input_norm);
    be.matmul(h, L.qkv_proj.tensor, qkv);
    if (config_.qkv_bias) be.add_bias(qkv, L.qkv_bias.tensor);
    if (config_.qk_norm) be.qk_norm(qkv, L.q_norm.tensor, L.k_norm.tensor, eps, shape);
    shape.window = config_.window_of(static_cast<int>(l));
    const bool local_rope = shape.window > 0 && cos_sin_local_.buffer.data() != nullptr;
    be.rope_kv_write(qkv, in.positions, (local_rope ? cos_sin_local_ : cos_sin_).tensor,
                     in.slot_mapping, cache.keys(static_cast<int>(l)),
                     cache.values(static_cast<int>(l)), shape);
    be.attention(qkv, cache.keys(static_cast<int>(l)), cache.values(static_cast<int>(l)), in.attn,
                 shape, attn);
    project(attn, L.o_proj.tensor, L.o_bias, L.attn_out_norm);
    norm_into_h(L.post_norm);
    be.matmul(h, L.gate_up.tensor, gate_up);
    if (config_.gelu_mlp) {
      be.gelu_tanh_mul(gate_up, act);
    } else {
      be.silu_mul(gate_up, act);
    }
    project(act, L.down_proj.tensor, OwnedTensor{}, L.mlp_out_norm);
  }
  // Only the rows that are sampled need the final norm and the (large) lm_head product.
  const int64_t num_logits = in.logits_indices.numel();
  if (num_logits == 0) return;  // a step of non-final prefill chunks: only the KV writes matter
  Tensor last = ws.last.tensor.rows(0, num_logits);
  // The final norm runs over all rows (cheap: hidden-sized) so the residual add stays fused.
  norm_into_h(final_norm_);
  be.embedding(h, in.logits_indices, last);
  be.matmul(last, (lm_head_.buffer.data() ? lm_head_ : embed_).tensor, logits);
  if (config_.final_logit_softcap > 0) be.softcap(logits, config_.final_logit_softcap);
}

}  // namespace llm
