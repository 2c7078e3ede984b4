// Backend: owns device memory and runs the ops of a Llama-family decoder step. The model is
// written once against this interface; CpuBackend and CudaBackend implement it.
//
// Conventions shared by every op:
// - Activations are row-major [num_tokens, features]; the batch is flat ("varlen"): the tokens
//   of all sequences in a step are concatenated, sequence s owning rows
//   [query_start[s], query_start[s+1]).
// - Activations are f32, or on a backend whose activation_dtype() says so 16-bit (bf16/f16) between
//   the ops that produce and consume them (norm outputs, qkv, attention output, the MLP's
//   gate_up and product); the residual stream, the output projections that add to it, and the
//   logits stay f32. Ops take f32 wherever they take a 16-bit activation.
// - Linear weights are [out_features, in_features] as in Hugging Face checkpoints; matmul
//   computes out = x . w^T.
// - The fused projection output qkv is [num_tokens, (num_heads + 2 * num_kv_heads) * head_dim]:
//   all query heads, then all key heads, then all value heads.
// - The KV cache of one layer is two tensors [num_blocks, num_kv_heads, block_size, head_dim];
//   token slot s lives in block s / block_size at offset s % block_size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/backend/tensor.h"

namespace llm {

// Per-step attention metadata, in backend memory (i32 tensors) plus host-side sizes.
struct AttentionBatch {
  Tensor query_start;   // [num_seqs + 1]: row offsets of each sequence's new tokens
  Tensor seq_lens;      // [num_seqs]: tokens in the cache after this step's write (context)
  Tensor block_tables;  // [num_seqs, max_blocks_per_seq]: physical block ids, in order
  int num_seqs = 0;
  int max_seq_len = 0;  // the largest seq_lens entry (sizes scratch space)
  int max_query_len = 0;
};

// Host memory for upload: row-major elements of `dtype`, whatever file format they came from (the
// model reads checkpoints; backends only see bytes).
struct HostTensor {
  std::span<const std::byte> bytes;  // [numel * dtype_size(dtype)]
  DType dtype = DType::kF32;
  std::string_view label;  // names the tensor in error messages
};

// Device memory as the backend's runtime reports it (cudaMemGetInfo), in bytes.
struct MemoryInfo {
  size_t free = 0;
  size_t total = 0;
};

// The largest step the engine will run, so a backend can size its scratch space once, before
// the KV pool takes the rest of the memory, and never allocate inside the step loop.
struct WorkspaceLimits {
  int64_t max_tokens = 0;       // rows per step
  int64_t max_in_features = 0;  // the widest matmul input (K)
  int max_seqs = 0;
  int max_seq_len = 0;
  int num_heads = 0;
  int head_dim = 0;
};

// Head geometry of one attention layer.
struct AttentionShape {
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int block_size = 0;
  float scale = 0.f;  // softmax scale, 1/sqrt(head_dim)
  // > 0: a query at position p sees only keys at positions (p - window, p] (sliding window, as
  // transformers masks it); 0: every earlier key.
  int window = 0;
  // > 0: scores become softcap * tanh(score / softcap) before the softmax (Gemma 2).
  float softcap = 0.f;
};

// One row's sampling parameters for Backend::sample (engine/sampler.h's definition).
struct RowSampling {
  double temperature = 0.0;  // 0: greedy
  int top_k = 0;             // <= 0: every token
  double top_p = 1.0;
  double min_p = 0.0;
  double draw = 0.0;  // the row's uniform draw in [0, 1), from its sequence's generator
  int logprobs = -1;  // >= 0: also the chosen token's logprob and this many alternatives
  double repetition_penalty = 1.0, presence_penalty = 0.0, frequency_penalty = 0.0;
  // With a penalty: the row's distinct prompt and output tokens, and how often each is in the
  // output (host memory that lives through the call).
  std::span<const int32_t> penalty_ids, penalty_counts;
};

// The most alternatives a row's logprobs carry on the device (SamplingParams::kMaxLogprobs).
inline constexpr int kDeviceTopLogprobs = 20;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // --- memory ---
  virtual Buffer alloc(size_t bytes) = 0;
  // Host memory for the per-step copies to and from this backend (step metadata, logits): page-
  // locked on a device backend, so copies from it run asynchronously and both ways run at the
  // bus's full rate; ordinary memory here. The caller must not rewrite memory a copy still reads
  // (the engine's steps end with a synchronising copy back).
  virtual Buffer alloc_host(size_t bytes);
  virtual void copy_from_host(Tensor dst, const void* src) = 0;
  virtual void copy_to_host(void* dst, Tensor src) = 0;
  // Copies host `src` into `dst` (same element count), converting to dst's dtype.
  virtual void upload(const HostTensor& src, Tensor dst) = 0;
  virtual void synchronize() = 0;
  // Device memory for sizing the KV pool; nullopt for host memory (the engine then uses a
  // fraction of the machine's available memory).
  virtual std::optional<MemoryInfo> memory_info() const { return std::nullopt; }
  // Allocates the scratch space steps up to `limits` need (no-op for backends without any).
  virtual void reserve_workspace(const WorkspaceLimits& /*limits*/) {}
  // What the KV cache stores for a model whose weights are `weight_dtype`.
  virtual DType kv_cache_dtype(DType /*weight_dtype*/) const { return DType::kF32; }
  // What the model keeps its activations in (see the conventions above) for a model whose weights
  // are `weight_dtype`: a 16-bit type halves the traffic of every op between two GEMMs and feeds
  // the GEMMs without a conversion pass. f32 here: the CPU's kernels compute on f32 activations.
  virtual DType activation_dtype(DType /*weight_dtype*/) const { return DType::kF32; }
  // Whether matmul and embedding read weights of the quantized type `t` as they are (else the
  // model uploads such weights dequantized to its float dtype).
  virtual bool computes_on(DType /*t*/) const { return false; }
  // Rewrites a loaded linear weight [N, K] into the layout this backend's matmul reads fastest;
  // the result keeps the shape and dtype, and only this backend's matmul may read it.
  // nullopt: the row-major weight is already that layout, keep it. With `quantize_to` (a
  // quantized type computes_on() accepts) a float weight is quantized to it on the way
  // (--quantization); the result then has that dtype.
  virtual std::optional<OwnedTensor> prepare_linear_weight(
      const Tensor& /*w*/, std::optional<DType> /*quantize_to*/ = std::nullopt) {
    return std::nullopt;
  }
  // One linear weight from row-major parts [n_i, K] of different quantized types, stacked in
  // order (a GGUF Q4_K_M file's layer with Q4_K queries and keys beside Q6_K values, fused into
  // one q/k/v product). The result is [sum n_i, K] for this backend's matmul only. nullopt: this
  // backend cannot, and the model dequantizes the parts to its float dtype instead.
  virtual std::optional<OwnedTensor> prepare_mixed_linear_weight(
      std::span<const Tensor> /*parts*/) {
    return std::nullopt;
  }

  // --- ops ---
  // out[t] = table[ids[t]]: token embedding, also used to gather hidden rows for the logits.
  // ids[t] < 0 gives a zero row (a token whose row another tensor-parallel rank holds).
  virtual void embedding(Tensor table, Tensor ids, Tensor out) = 0;
  // out = rmsnorm(x) * weight over the last dimension.
  virtual void rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) = 0;
  // residual += delta; out = rmsnorm(residual) * weight. One pass over the residual stream.
  virtual void add_rmsnorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) = 0;
  // out[T, N] = x[T, K] . w[N, K]^T; x and out f32 or activation_dtype() (each rounded once, as
  // stored), w of the model's weight dtype.
  virtual void matmul(Tensor x, Tensor w, Tensor out) = 0;
  // out[T, N] += x[T, K] . w[N, K]^T with out f32: an output projection added to the residual
  // stream inside the GEMM (its epilogue), so the sum is not written and read back. false, doing
  // nothing, where the backend has no such GEMM (the caller multiplies and adds itself).
  virtual bool matmul_accumulate(Tensor /*x*/, Tensor /*w*/, Tensor /*out*/) { return false; }
  // Rotate-half RoPE in place on the query and key heads of qkv, at positions[t], over the first
  // rotary_dim dimensions of each head (all of them unless the model rotates part of the head).
  // cos_sin is [max_positions, rotary_dim / 2, 2] (cos, sin), precomputed (engine/model/rope.h).
  virtual void rope(Tensor qkv, Tensor positions, Tensor cos_sin, const AttentionShape& shape) = 0;
  // Stores the key and value heads of qkv into the paged cache at slot_mapping[t]; a row whose
  // slot is negative (padding) is not stored.
  virtual void kv_write(Tensor qkv, Tensor slot_mapping, Tensor k_cache, Tensor v_cache,
                        const AttentionShape& shape) = 0;
  // rope() then kv_write(), which a backend may do in one pass (the CUDA backend does).
  virtual void rope_kv_write(Tensor qkv, Tensor positions, Tensor cos_sin, Tensor slot_mapping,
                             Tensor k_cache, Tensor v_cache, const AttentionShape& shape) {
    rope(qkv, positions, cos_sin, shape);
    kv_write(qkv, slot_mapping, k_cache, v_cache, shape);
  }
  // Causal attention of each new query token over its sequence's cached keys/values (which
  // already include this step's tokens). out is [T, num_heads * head_dim].
  virtual void attention(Tensor qkv, Tensor k_cache, Tensor v_cache, const AttentionBatch& batch,
                         const AttentionShape& shape, Tensor out) = 0;
  // out[T, F] = silu(gate_up[:, :F]) * gate_up[:, F:]
  virtual void silu_mul(Tensor gate_up, Tensor out) = 0;
  // out[T, F] = gelu_tanh(gate_up[:, :F]) * gate_up[:, F:]: GeGLU with the tanh GELU (Gemma).
  virtual void gelu_tanh_mul(Tensor gate_up, Tensor out) = 0;
  // x *= c, in place (Gemma's embedding scale).
  virtual void scale(Tensor x, float c) = 0;
  // x = cap * tanh(x / cap), in place (Gemma 2's final logit soft-capping).
  virtual void softcap(Tensor x, float cap) = 0;
  // x[t, :] += bias: a biased projection's bias (Qwen2's q/k/v); x [T, N], bias [N] f32.
  virtual void add_bias(Tensor x, Tensor bias) = 0;
  // In place on qkv [T, (num_heads + 2 * num_kv_heads) * head_dim]: RMSNorm of every query head
  // with q_weight [head_dim] and of every key head with k_weight (Qwen3: before RoPE).
  virtual void qk_norm(Tensor qkv, Tensor q_weight, Tensor k_weight, float eps,
                       const AttentionShape& shape) = 0;

  // --- tensor parallelism: collectives between the ranks of one model (f32) ---
  // x = the sum over ranks of x, in place. Only called on backends given a communicator.
  virtual void all_reduce_sum(Tensor x);
  // out [ranks, in...] = every rank's `in`, in rank order.
  virtual void all_gather(Tensor in, Tensor out);

  // --- device-side helpers (CUDA); false: not offered here, the caller does the work itself ---
  // The first call with a `key` captures what `record` issues into a CUDA graph; that call and
  // every later one with the key launch the graph. What `record` issues must depend only on the
  // key (shapes, launch sizes, buffer addresses); the data it reads may change between launches.
  virtual bool replay_graph(int64_t /*key*/, const std::function<void()>& /*record*/) {
    return false;
  }
  // ids[r] = the index of the largest entry of logits row r [rows, vocab] f32 (the lowest such
  // index, as the host sampler picks), so a greedy step downloads ids instead of logits.
  virtual bool argmax(Tensor /*logits*/, Tensor /*ids*/) { return false; }
  // ids[r] = the token rows[r] chooses from logits[r, :] (temperature, top-k, min-p, top-p and
  // the draw, as the host sampler defines them); for rows with logprobs >= 0 also the host
  // sampler's logprobs of the raw logits: lp_values[r] = [chosen token's, then the best
  // alternatives'] ([L, 1 + kDeviceTopLogprobs] f32) and lp_ids[r] their ids ([L,
  // kDeviceTopLogprobs] i32). false, doing nothing, when this backend leaves sampling to the host.
  virtual bool sample(Tensor /*logits*/, std::span<const RowSampling> /*rows*/, Tensor /*ids*/,
                      Tensor /*lp_values*/, Tensor /*lp_ids*/) {
    return false;
  }
};

}  // namespace llm
