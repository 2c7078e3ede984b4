// CpuBackend: the Backend on host memory with the kernels of kernels/cpu (f32).
#pragma once

#include "engine/backend/backend.h"

namespace llm {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }

  Buffer alloc(size_t bytes) override;
  void copy_from_host(Tensor dst, const void* src) override;
  void copy_to_host(void* dst, Tensor src) override;
  void upload(const TensorView& src, Tensor dst) override;
  void synchronize() override {}

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
};

}  // namespace llm
