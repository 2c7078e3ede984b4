#include "engine/backend/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu/cpu_kernels.h"
#include "llm/error.h"

namespace llm {
namespace {

void expect_f32(const Tensor& t, const char* what) {
  if (t.dtype != DType::kF32) {
    throw Error(ErrorCode::kUnsupported, std::string("cpu backend: ") + what +
                                             " must be f32, got " +
                                             std::string(dtype_name(t.dtype)));
  }
}

}  // namespace

Buffer CpuBackend::alloc(size_t bytes) {
  // 64-byte alignment: one cache line, and what AVX-512 loads like.
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) {
    throw Error(ErrorCode::kResourceExhausted,
                "cpu backend: cannot allocate " + std::to_string(bytes) + " bytes");
  }
  return Buffer(p, bytes, [](void* q) { std::free(q); });
}

// Zero-byte copies happen (a step whose rows all skip the logits); memcpy may not see null then.
void CpuBackend::copy_from_host(Tensor dst, const void* src) {
  if (dst.nbytes() > 0) std::memcpy(dst.data, src, dst.nbytes());
}

void CpuBackend::copy_to_host(void* dst, Tensor src) {
  if (src.nbytes() > 0) std::memcpy(dst, src.data, src.nbytes());
}

void CpuBackend::upload(const TensorView& src, Tensor dst) {
  expect_f32(dst, "weight");
  const int64_t n = src.num_elements();
  if (n != dst.numel()) {
    throw Error(ErrorCode::kInternal, "upload of '" + src.name + "': " + std::to_string(n) +
                                          " elements into a tensor of " +
                                          std::to_string(dst.numel()));
  }
  float* out = dst.as<float>();
  const std::byte* bytes = src.data.data();
  switch (src.dtype) {
    case DType::kF32:
      std::memcpy(out, bytes, static_cast<size_t>(n) * sizeof(float));
      break;
    case DType::kBF16:
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, bytes + 2 * i, 2);
        out[i] = src.dtype == DType::kBF16 ? cpu::bf16_to_f32(v) : cpu::f16_to_f32(v);
      }
      break;
    case DType::kI32:
      throw Error(ErrorCode::kUnsupported, "cpu backend: integer weights are not supported");
  }
}

void CpuBackend::embedding(Tensor table, Tensor ids, Tensor out) {
  expect_f32(table, "embedding table");
  cpu::embedding(table.as<float>(), ids.as<int32_t>(), ids.numel(), table.size(1), out.as<float>());
}

void CpuBackend::rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) {
  expect_f32(x, "rmsnorm input");
  cpu::rmsnorm(x.as<float>(), weight.as<float>(), x.size(0), x.size(1), eps, out.as<float>());
}

void CpuBackend::add_rmsnorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) {
  expect_f32(residual, "residual");
  cpu::add_rmsnorm(residual.as<float>(), delta.as<float>(), weight.as<float>(), residual.size(0),
                   residual.size(1), eps, out.as<float>());
}

void CpuBackend::matmul(Tensor x, Tensor w, Tensor out) {
  expect_f32(w, "matmul weight");
  cpu::matmul(x.as<float>(), w.as<float>(), x.size(0), x.size(1), w.size(0), out.as<float>());
}

void CpuBackend::rope(Tensor qkv, Tensor positions, Tensor cos_sin, const AttentionShape& s) {
  const int64_t ld = qkv.size(1);
  const int64_t T = qkv.size(0);
  cpu::rope(qkv.as<float>(), ld, 0, positions.as<int32_t>(), T, s.num_heads, s.head_dim,
            cos_sin.as<float>());
  cpu::rope(qkv.as<float>(), ld, static_cast<int64_t>(s.num_heads) * s.head_dim,
            positions.as<int32_t>(), T, s.num_kv_heads, s.head_dim, cos_sin.as<float>());
}

void CpuBackend::kv_write(Tensor qkv, Tensor slot_mapping, Tensor k_cache, Tensor v_cache,
                          const AttentionShape& s) {
  const int64_t q = static_cast<int64_t>(s.num_heads) * s.head_dim;
  const int64_t kv = static_cast<int64_t>(s.num_kv_heads) * s.head_dim;
  cpu::kv_write(qkv.as<float>(), qkv.size(1), q, q + kv, slot_mapping.as<int32_t>(), qkv.size(0),
                s.num_kv_heads, s.head_dim, s.block_size, k_cache.as<float>(), v_cache.as<float>());
}

void CpuBackend::attention(Tensor qkv, Tensor k_cache, Tensor v_cache, const AttentionBatch& b,
                           const AttentionShape& s, Tensor out) {
  cpu::PagedAttentionArgs a{};
  a.qkv = qkv.as<float>();
  a.ld = qkv.size(1);
  a.k_cache = k_cache.as<float>();
  a.v_cache = v_cache.as<float>();
  a.query_start = b.query_start.as<int32_t>();
  a.seq_lens = b.seq_lens.as<int32_t>();
  a.block_tables = b.block_tables.as<int32_t>();
  a.max_blocks_per_seq = b.block_tables.size(1);
  a.num_seqs = b.num_seqs;
  a.num_heads = s.num_heads;
  a.num_kv_heads = s.num_kv_heads;
  a.head_dim = s.head_dim;
  a.block_size = s.block_size;
  a.scale = s.scale;
  a.out = out.as<float>();
  cpu::paged_attention(a);
}

void CpuBackend::silu_mul(Tensor gate_up, Tensor out) {
  cpu::silu_mul(gate_up.as<float>(), gate_up.size(0), gate_up.size(1) / 2, out.as<float>());
}

}  // namespace llm
