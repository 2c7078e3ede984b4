// CpuBackend: the Backend on host memory. Linear weights are repacked for the kernels of
// kernels/cpu/packed_matmul.h (f32, bf16 or f16, f32 accumulation; bf16 in pairs for AVX-512
// BF16, which rounds the activations to bf16 inside the matmul); activations and the KV cache
// are f32. Every op runs on one persistent thread pool.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/parallel/communicator.h"
#include "kernels/cpu/packed_matmul.h"
#include "kernels/cpu/quant_matmul.h"
#include "kernels/cpu/thread_pool.h"

namespace llm {

class CpuBackend final : public Backend {
 public:
  // `threads` includes the calling thread; 0 means one per hardware thread. `comm` (not owned,
  // may be null) connects this rank to the other tensor-parallel ranks of its model.
  explicit CpuBackend(int threads = 0, Communicator* comm = nullptr);
  std::string name() const override { return "cpu"; }
  int num_threads() const { return pool_.size(); }
  // The matmul kernel this backend runs for weights of `weights` dtype, for reports.
  std::string matmul_kernel(DType weights) const;

  Buffer alloc(size_t bytes) override;
  void copy_from_host(Tensor dst, const void* src) override;
  void copy_to_host(void* dst, Tensor src) override;
  void upload(const HostTensor& src, Tensor dst) override;
  void synchronize() override {}
  // Q8_0 and Q4_0 (the integer kernels of kernels/cpu/quant_matmul.h).
  bool computes_on(DType t) const override;
  std::optional<OwnedTensor> prepare_linear_weight(
      const Tensor& w, std::optional<DType> quantize_to = std::nullopt) override;
  // Each part packed as prepare_linear_weight packs it, one after another in one buffer; matmul
  // runs every part's panels with its own kernel, into its own columns of the output.
  std::optional<OwnedTensor> prepare_mixed_linear_weight(std::span<const Tensor> parts) override;

  void embedding(Tensor table, Tensor ids, Tensor out) override;
  void rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) override;
  void add_rmsnorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) override;
  void matmul(Tensor x, Tensor w, Tensor out) override;
  void rope(Tensor qkv, Tensor positions, Tensor cos_sin, const AttentionShape& shape) override;
  void kv_write(Tensor qkv, Tensor slot_mapping, Tensor k_cache, Tensor v_cache,
                const AttentionShape& shape) override;
  void attention(Tensor qkv, Tensor k_cache, Tensor v_cache, const AttentionBatch& batch,
                 const AttentionShape& shape, Tensor out) override;
  void silu_mul(Tensor gate_up, Tensor out) override;
  void gelu_tanh_mul(Tensor gate_up, Tensor out) override;
  void scale(Tensor x, float c) override;
  void softcap(Tensor x, float cap) override;
  void add_bias(Tensor x, Tensor bias) override;
  void qk_norm(Tensor qkv, Tensor q_weight, Tensor k_weight, float eps,
               const AttentionShape& shape) override;
  void all_reduce_sum(Tensor x) override;
  void all_gather(Tensor in, Tensor out) override;

 private:
  cpu::PackedLayout layout_of(cpu::WeightType type) const;
  // A part of a mixed weight (prepare_mixed_linear_weight): its panels' type, where they start in
  // the weight's buffer, its rows of the weight (the output columns it writes) and the index of
  // its first panel among all the weight's panels.
  struct QuantPart {
    DType type;
    size_t offset;
    int64_t row_begin, rows, first_panel;
    int64_t end_panel() const { return first_panel + (rows + cpu::kPanel - 1) / cpu::kPanel; }
  };
  // What prepare_linear_weight (or prepare_mixed_linear_weight) made of a weight.
  struct PackedEntry {
    cpu::PackedLayout layout = cpu::PackedLayout::kKMajor;
    std::vector<QuantPart> parts;  // empty unless the weight is mixed
  };
  // The layout prepare_linear_weight packed `w` in; nullopt for a row-major weight.
  std::optional<cpu::PackedLayout> packed_layout(const Tensor& w) const;
  // What prepare_*linear_weight made of `w`; null for a row-major weight (valid while `w` lives).
  const PackedEntry* packed_entry(const Tensor& w) const;
  // Registers a packed buffer and wraps it so that freeing it drops the registration first.
  OwnedTensor register_packed(std::shared_ptr<Buffer> raw, Tensor shape_of, PackedEntry entry);

  cpu::ThreadPool pool_;
  Communicator* comm_;
  // How bf16 weights are packed: fixed when the backend is made, from the ISA then in use, so
  // a later set_cpu_isa() cannot pair a weight with a kernel for another layout.
  cpu::PackedLayout bf16_layout_;
  // The weights prepare_linear_weight packed, by address, as a Tensor cannot say it is packed.
  // Shared with those buffers' deleters, which drop their entry (on whatever thread frees them,
  // hence the mutex) before the memory goes, so memory reused later is never read as panels.
  struct PackedWeights {
    std::mutex mu;
    std::unordered_map<const void*, PackedEntry> entries;
  };
  std::shared_ptr<PackedWeights> packed_ = std::make_shared<PackedWeights>();
  // The matmul's activations rounded to bf16 pairs [T, ceil(K/2)]: grows, then is reused.
  std::vector<uint32_t> x_pairs_;
  // The matmul's activations quantized to int8 blocks for quantized weights: grows, then reused.
  cpu::QuantizedActivations x_quant_;
  // Per-worker attention scratch; grows during warm-up, then is reused every step.
  std::vector<std::vector<float>> scratch_;
};

}  // namespace llm
