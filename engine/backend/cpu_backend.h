// CpuBackend: the Backend on host memory. Linear weights are repacked for the kernels of
// kernels/cpu/packed_matmul.h (f32, bf16 or f16, f32 accumulation; bf16 in pairs for AVX-512
// BF16, which rounds the activations to bf16 inside the matmul); activations and the KV cache
// are f32. Every op runs on one persistent thread pool.
#pragma once

#include <memory>
#include <mutex>
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
  // The layout prepare_linear_weight packed `w` in; nullopt for a row-major weight.
  std::optional<cpu::PackedLayout> packed_layout(const Tensor& w) const;

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
    std::unordered_map<const void*, cpu::PackedLayout> layouts;
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
