#include "engine/backend/cpu_backend.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "engine/backend/backend_common.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/packed_matmul.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/quant_matmul.h"
#include "llm/error.h"

namespace llm {
namespace {

// Buffers from this size up (weights, the KV pool, workspaces) get their own mapping, faulted in
// at allocation (see alloc).
constexpr size_t kPopulateBytes = size_t{2} << 20;

// Smallest share of a loop worth handing to another thread, in multiply-adds or elements: waking
// a worker costs a few microseconds, so smaller loops (all of stories260K) stay on the caller.
constexpr double kMinChunkWork = 1 << 17;

int64_t grain(double work_per_item) {
  return static_cast<int64_t>(kMinChunkWork / std::max(work_per_item, 1.0)) + 1;
}

cpu::WeightType weight_type(DType t) {
  switch (t) {
    case DType::kF32:
      return cpu::WeightType::kF32;
    case DType::kBF16:
      return cpu::WeightType::kBF16;
    case DType::kF16:
      return cpu::WeightType::kF16;
    default:
      break;
  }
  throw Error(ErrorCode::kUnsupported,
              "cpu backend: " + std::string(dtype_name(t)) + " weights are not supported");
}

}  // namespace

CpuBackend::CpuBackend(int threads, Communicator* comm)
    : pool_(threads),
      comm_(comm),
      bf16_layout_(cpu::preferred_layout(cpu::WeightType::kBF16)),
      scratch_(static_cast<size_t>(pool_.size())) {}

cpu::PackedLayout CpuBackend::layout_of(cpu::WeightType type) const {
  return type == cpu::WeightType::kBF16 ? bf16_layout_ : cpu::PackedLayout::kKMajor;
}

std::string CpuBackend::matmul_kernel(DType weights) const {
  const cpu::WeightType type = weight_type(weights);
  return cpu::matmul_kernel_name(type, layout_of(type));
}

Buffer CpuBackend::alloc(size_t bytes) {
  if (bytes >= kPopulateBytes) {
    // Large buffers (weights, the KV pool) are streamed every step: back them with 2 MiB pages
    // where the kernel allows (THP in "madvise" mode needs the hint), which saves most TLB
    // misses, and fault every page in now rather than inside a step.
    const size_t huge = size_t{2} << 20;
    const size_t mapped = bytes + huge;
    void* base = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
      throw Error(ErrorCode::kResourceExhausted,
                  "cpu backend: cannot map " + std::to_string(bytes) + " bytes");
    }
    auto* p = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(base) + huge - 1) & ~(huge - 1));
    madvise(p, bytes, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
    if (madvise(p, bytes, MADV_POPULATE_WRITE) != 0)
#endif
    {
      for (size_t off = 0; off < bytes; off += 4096) p[off] = 0;  // older kernels
    }
    return Buffer(p, bytes, [base, mapped](void*) { munmap(base, mapped); });
  }
  // 64-byte alignment: one cache line, what the vector loads like.
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

void CpuBackend::upload(const HostTensor& src, Tensor dst) {
  const int64_t n = upload_elements(*this, src, dst);
  if (src.dtype == dst.dtype) {
    std::memcpy(dst.data, src.bytes.data(), src.bytes.size());
    return;
  }
  // In whole blocks of the source type (elements of a plain one).
  const int64_t block = dtype_block_elems(src.dtype);
  const size_t out_size = dtype_size(dst.dtype);
  pool_.parallel_for(
      n / block, grain(4.0 * static_cast<double>(block)), [&](int64_t b, int64_t e, int) {
        convert_floats(src.bytes.data() + dtype_row_bytes(src.dtype, b * block), src.dtype,
                       dst.as<std::byte>() + static_cast<size_t>(b * block) * out_size, dst.dtype,
                       (e - b) * block);
      });
}

std::optional<cpu::PackedLayout> CpuBackend::packed_layout(const Tensor& w) const {
  const PackedEntry* entry = packed_entry(w);
  return entry ? std::optional(entry->layout) : std::nullopt;
}

const CpuBackend::PackedEntry* CpuBackend::packed_entry(const Tensor& w) const {
  // Entries are nodes of an unordered_map: their address holds until the weight is freed.
  const std::lock_guard lock(packed_->mu);
  const auto it = packed_->entries.find(w.data);
  return it == packed_->entries.end() ? nullptr : &it->second;
}

bool CpuBackend::computes_on(DType t) const {
  return cpu::quant_matmul_supports(t);
}

std::optional<OwnedTensor> CpuBackend::prepare_linear_weight(const Tensor& w,
                                                             std::optional<DType> quantize_to) {
  expect(*this, w.ndim == 2 && !packed_layout(w), "linear weight must be 2-D row-major");
  const int64_t n = w.size(0), k = w.size(1);
  const int64_t panels = (n + cpu::kPanel - 1) / cpu::kPanel;
  const DType quant = quantize_to ? *quantize_to : w.dtype;
  std::shared_ptr<Buffer> raw;
  cpu::PackedLayout layout = cpu::PackedLayout::kKMajor;
  if (dtype_is_quantized(quant)) {
    // Quantized panels (quant_matmul.h): a GGUF weight's blocks as they are, or a float weight
    // quantized on the way (through f32 rows [n, k] when it is 16-bit).
    expect(*this, computes_on(quant), std::string(dtype_name(quant)) + " weights");
    expect(*this, quant == w.dtype || !dtype_is_quantized(w.dtype),
           "cannot requantize " + std::string(dtype_name(w.dtype)) + " weights");
    raw = std::make_shared<Buffer>(alloc(cpu::quant_packed_bytes(n, k, quant)));
    std::vector<float> rows;  // [n, k] f32, only for a 16-bit source
    if (!dtype_is_quantized(w.dtype) && w.dtype != DType::kF32) {
      rows.resize(static_cast<size_t>(n * k));
      upload({std::span(static_cast<const std::byte*>(w.data), w.nbytes()), w.dtype, "weight"},
             Tensor(rows.data(), DType::kF32, {n, k}));
    }
    const float* f32 = rows.empty() ? w.as<float>() : rows.data();
    pool_.parallel_for(panels, grain(static_cast<double>(k) * cpu::kPanel * 4),
                       [&](int64_t b, int64_t e, int) {
                         if (dtype_is_quantized(w.dtype)) {
                           cpu::pack_quant_weight_blocks(w.data, n, k, quant, raw->data(), b, e);
                         } else {
                           cpu::pack_quant_weight_f32(f32, n, k, quant, raw->data(), b, e);
                         }
                       });
  } else {
    const cpu::WeightType type = weight_type(w.dtype);
    layout = layout_of(type);
    raw = std::make_shared<Buffer>(alloc(cpu::packed_weight_bytes(n, k, type, layout)));
    // Zero the padding once, then pack the (disjoint) panel ranges on every thread.
    std::memset(raw->data(), 0, raw->bytes());
    pool_.parallel_for(panels, grain(static_cast<double>(k) * cpu::kPanel),
                       [&](int64_t b, int64_t e, int) {
                         cpu::pack_weight_panels(w.data, n, k, type, raw->data(), layout, b, e);
                       });
  }
  Tensor shape_of = w;
  shape_of.dtype = quant;
  return register_packed(std::move(raw), shape_of, {layout, {}});
}

std::optional<OwnedTensor> CpuBackend::prepare_mixed_linear_weight(std::span<const Tensor> parts) {
  expect(*this, !parts.empty(), "a mixed weight needs parts");
  const int64_t k = parts[0].size(1);
  std::vector<QuantPart> placed;
  size_t bytes = 0;
  int64_t rows = 0;
  for (const Tensor& p : parts) {
    expect(*this,
           p.ndim == 2 && p.size(1) == k && dtype_is_quantized(p.dtype) && computes_on(p.dtype),
           "mixed weight parts must be 2-D quantized weights of one width");
    placed.push_back(
        {p.dtype, bytes, rows, p.size(0), placed.empty() ? 0 : placed.back().end_panel()});
    // 64-byte aligned parts: each starts on a cache line, as a weight of its own would.
    bytes += (cpu::quant_packed_bytes(p.size(0), k, p.dtype) + 63) / 64 * 64;
    rows += p.size(0);
  }
  auto raw = std::make_shared<Buffer>(alloc(bytes));
  for (size_t i = 0; i < parts.size(); ++i) {
    const QuantPart& q = placed[i];
    void* dst = static_cast<std::byte*>(raw->data()) + q.offset;
    pool_.parallel_for((q.rows + cpu::kPanel - 1) / cpu::kPanel,
                       grain(static_cast<double>(k) * cpu::kPanel * 4),
                       [&](int64_t b, int64_t e, int) {
                         cpu::pack_quant_weight_blocks(parts[i].data, q.rows, k, q.type, dst, b, e);
                       });
  }
  Tensor shape_of(nullptr, parts[0].dtype, {rows, k});
  return register_packed(std::move(raw), shape_of, {cpu::PackedLayout::kKMajor, std::move(placed)});
}

OwnedTensor CpuBackend::register_packed(std::shared_ptr<Buffer> raw, Tensor shape_of,
                                        PackedEntry entry) {
  OwnedTensor packed;
  // The deleter drops the entry; `raw` frees the memory after it, when the deleter is destroyed.
  packed.buffer = Buffer(raw->data(), raw->bytes(),
                         [weights = std::weak_ptr<PackedWeights>(packed_), raw](void* p) {
                           if (const auto table = weights.lock()) {
                             const std::lock_guard lock(table->mu);
                             table->entries.erase(p);
                           }
                         });
  packed.tensor = shape_of;
  packed.tensor.data = packed.buffer.data();
  const std::lock_guard lock(packed_->mu);
  packed_->entries[packed.tensor.data] = std::move(entry);
  return packed;
}

void CpuBackend::embedding(Tensor table, Tensor ids, Tensor out) {
  expect(*this, !packed_layout(table), "embedding table must be row-major");
  const int32_t* id = ids.as<int32_t>();
  const int64_t dim = table.size(1);
  if (dtype_is_quantized(table.dtype)) {
    // A GGUF file's quantized table: each gathered row dequantized (zeros for id < 0).
    const size_t row_bytes = dtype_row_bytes(table.dtype, dim);
    for (int64_t t = 0; t < ids.numel(); ++t) {
      float* row = out.as<float>() + t * dim;
      if (id[t] < 0) {
        std::fill(row, row + dim, 0.0f);
      } else {
        cpu::dequantize_blocks(
            table.dtype, table.as<std::byte>() + static_cast<size_t>(id[t]) * row_bytes, dim, row);
      }
    }
  } else if (table.dtype == DType::kF32) {
    cpu::embedding(table.as<float>(), id, ids.numel(), dim, out.as<float>());
  } else {
    expect(*this, table.dtype == DType::kBF16 || table.dtype == DType::kF16,
           "embedding table dtype");
    cpu::embedding_16(table.as<uint16_t>(), table.dtype == DType::kBF16, id, ids.numel(), dim,
                      out.as<float>());
  }
}

void CpuBackend::rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) {
  expect_f32(*this, x, "rmsnorm input");
  const int64_t dim = x.size(1);
  pool_.parallel_for(x.size(0), grain(2.0 * dim), [&](int64_t b, int64_t e, int) {
    cpu::rmsnorm(x.as<float>() + b * dim, weight.as<float>(), e - b, dim, eps,
                 out.as<float>() + b * dim);
  });
}

void CpuBackend::gelu_tanh_mul(Tensor gate_up, Tensor out) {
  expect_f32(*this, gate_up, "gelu_tanh_mul input");
  const int64_t F = gate_up.size(1) / 2;
  pool_.parallel_for(gate_up.size(0), grain(20.0 * F), [&](int64_t b, int64_t e, int) {
    cpu::gelu_tanh_mul(gate_up.as<float>() + b * 2 * F, e - b, F, out.as<float>() + b * F);
  });
}

void CpuBackend::scale(Tensor x, float c) {
  expect_f32(*this, x, "scale input");
  float* p = x.as<float>();
  pool_.parallel_for(x.numel(), grain(1.0), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) p[i] *= c;
  });
}

void CpuBackend::softcap(Tensor x, float cap) {
  expect_f32(*this, x, "softcap input");
  pool_.parallel_for(x.numel(), grain(20.0), [&](int64_t b, int64_t e, int) {
    cpu::softcap(x.as<float>() + b, e - b, cap);
  });
}

void CpuBackend::add_bias(Tensor x, Tensor bias) {
  expect_f32(*this, x, "add_bias input");
  expect_f32(*this, bias, "bias");
  const int64_t dim = x.size(1);
  expect(*this, bias.numel() == dim, "bias length");
  pool_.parallel_for(x.size(0), grain(static_cast<double>(dim)), [&](int64_t b, int64_t e, int) {
    cpu::add_bias(x.as<float>() + b * dim, bias.as<float>(), e - b, dim);
  });
}

void CpuBackend::qk_norm(Tensor qkv, Tensor q_weight, Tensor k_weight, float eps,
                         const AttentionShape& s) {
  expect_f32(*this, qkv, "qk_norm input");
  const int row_heads = s.num_heads + 2 * s.num_kv_heads;
  expect(*this, qkv.size(1) == static_cast<int64_t>(row_heads) * s.head_dim, "qk_norm qkv width");
  expect(*this, q_weight.numel() == s.head_dim && k_weight.numel() == s.head_dim,
         "qk_norm weights must be [head_dim]");
  pool_.parallel_for(qkv.size(0), grain(2.0 * qkv.size(1)), [&](int64_t b, int64_t e, int) {
    cpu::qk_norm(qkv.as<float>() + b * qkv.size(1), q_weight.as<float>(), k_weight.as<float>(),
                 e - b, row_heads, s.num_heads, s.num_kv_heads, s.head_dim, eps);
  });
}

void CpuBackend::add_rmsnorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) {
  expect_f32(*this, residual, "residual");
  const int64_t dim = residual.size(1);
  pool_.parallel_for(residual.size(0), grain(3.0 * dim), [&](int64_t b, int64_t e, int) {
    cpu::add_rmsnorm(residual.as<float>() + b * dim, delta.as<float>() + b * dim,
                     weight.as<float>(), e - b, dim, eps, out.as<float>() + b * dim);
  });
}

void CpuBackend::matmul(Tensor x, Tensor w, Tensor out) {
  expect_f32(*this, x, "matmul input");
  const int64_t T = x.size(0), K = x.size(1), N = w.size(0);
  const PackedEntry* entry = packed_entry(w);
  if (!entry) {
    // Weights that skipped prepare_linear_weight (tests): the plain reference kernel.
    expect_f32(*this, w, "row-major matmul weight");
    pool_.parallel_for(T, grain(static_cast<double>(K) * N), [&](int64_t b, int64_t e, int) {
      cpu::matmul(x.as<float>() + b * K, w.as<float>(), e - b, K, N, out.as<float>() + b * N);
    });
    return;
  }
  if (dtype_is_quantized(w.dtype)) {
    // Activations quantized to int8 blocks once, then the panels split between threads.
    cpu::quantize_activations(x.as<float>(), K, T, K, x_quant_);
    const double per_panel = static_cast<double>(T) * K * cpu::kPanel / 2;
    if (const auto* parts = &entry->parts; !parts->empty()) {
      // One loop over every part's panels: a chunk may span parts, each with its own kernel.
      pool_.parallel_for(
          parts->back().end_panel(), grain(per_panel), [&](int64_t b, int64_t e, int) {
            for (const QuantPart& q : *parts) {
              const int64_t lo = std::max(b, q.first_panel), hi = std::min(e, q.end_panel());
              if (lo >= hi) continue;
              const cpu::QuantPackedWeight qw{static_cast<const std::byte*>(w.data) + q.offset,
                                              q.type, q.rows, K};
              cpu::matmul_quant(x_quant_, qw, lo - q.first_panel, hi - q.first_panel,
                                out.as<float>() + q.row_begin, N);
            }
          });
      return;
    }
    const cpu::QuantPackedWeight qw{w.data, w.dtype, N, K};
    pool_.parallel_for(qw.num_panels(), grain(per_panel), [&](int64_t b, int64_t e, int) {
      cpu::matmul_quant(x_quant_, qw, b, e, out.as<float>(), N);
    });
    return;
  }
  const cpu::WeightType type = weight_type(w.dtype);
  const cpu::PackedWeight pw{w.data, type, N, K, entry->layout};
  const double per_panel = static_cast<double>(T) * K * cpu::kPanel;
  if (pw.layout == cpu::PackedLayout::kBf16Pairs) {
    // Round the activations to bf16 pairs once, not once per thread.
    const int64_t pairs = (K + 1) / 2;
    if (x_pairs_.size() < static_cast<size_t>(T * pairs))
      x_pairs_.resize(static_cast<size_t>(T * pairs));
    pool_.parallel_for(T, grain(static_cast<double>(K)), [&](int64_t b, int64_t e, int) {
      cpu::to_bf16_pairs(x.as<float>() + b * K, K, e - b, K, x_pairs_.data() + b * pairs);
    });
    pool_.parallel_for(pw.num_panels(), grain(per_panel), [&](int64_t b, int64_t e, int) {
      cpu::matmul_packed_pairs(x_pairs_.data(), T, pw, b, e, out.as<float>(), N);
    });
    return;
  }
  pool_.parallel_for(pw.num_panels(), grain(per_panel), [&](int64_t b, int64_t e, int) {
    cpu::matmul_packed(x.as<float>(), K, T, pw, b, e, out.as<float>(), N);
  });
}

void CpuBackend::rope(Tensor qkv, Tensor positions, Tensor cos_sin, const AttentionShape& s) {
  const int64_t ld = qkv.size(1);
  const int half = static_cast<int>(cos_sin.size(1));  // rotary_dim / 2
  expect(*this, 2 * half <= s.head_dim, "rope table wider than the head");
  const double per_row = static_cast<double>(s.num_heads + s.num_kv_heads) * s.head_dim * 2;
  pool_.parallel_for(qkv.size(0), grain(per_row), [&](int64_t b, int64_t e, int) {
    float* rows = qkv.as<float>() + b * ld;
    const int32_t* pos = positions.as<int32_t>() + b;
    cpu::rope(rows, ld, 0, pos, e - b, s.num_heads, s.head_dim, half, cos_sin.as<float>());
    cpu::rope(rows, ld, static_cast<int64_t>(s.num_heads) * s.head_dim, pos, e - b, s.num_kv_heads,
              s.head_dim, half, cos_sin.as<float>());
  });
}

void CpuBackend::kv_write(Tensor qkv, Tensor slot_mapping, Tensor k_cache, Tensor v_cache,
                          const AttentionShape& s) {
  expect_f32(*this, k_cache, "KV cache");
  const int64_t q = static_cast<int64_t>(s.num_heads) * s.head_dim;
  const int64_t kv = static_cast<int64_t>(s.num_kv_heads) * s.head_dim;
  cpu::kv_write(qkv.as<float>(), qkv.size(1), q, q + kv, slot_mapping.as<int32_t>(), qkv.size(0),
                s.num_kv_heads, s.head_dim, s.block_size, k_cache.as<float>(), v_cache.as<float>());
}

void CpuBackend::attention(Tensor qkv, Tensor k_cache, Tensor v_cache, const AttentionBatch& b,
                           const AttentionShape& s, Tensor out) {
  expect_f32(*this, k_cache, "KV cache");
  const auto a = attention_params<cpu::PagedAttentionArgs>(qkv, k_cache, v_cache, b, s, out);
  const size_t need = cpu::paged_attention_scratch_floats(a);
  for (auto& sc : scratch_) {
    if (sc.size() < need) sc.resize(need);
  }
  // An item is up to 32 query rows of one KV head's group against up to max_seq_len keys.
  const double per_item = 2.0 * std::min(b.max_query_len, 32) * b.max_seq_len * s.head_dim *
                          (s.num_heads / s.num_kv_heads);
  pool_.parallel_for(cpu::paged_attention_items(a), grain(per_item),
                     [&](int64_t begin, int64_t end, int w) {
                       cpu::paged_attention(a, begin, end, scratch_[static_cast<size_t>(w)].data());
                     });
}

void CpuBackend::silu_mul(Tensor gate_up, Tensor out) {
  const int64_t F = gate_up.size(1) / 2;
  pool_.parallel_for(gate_up.size(0), grain(8.0 * F), [&](int64_t b, int64_t e, int) {
    cpu::silu_mul(gate_up.as<float>() + b * 2 * F, e - b, F, out.as<float>() + b * F);
  });
}

void CpuBackend::all_reduce_sum(Tensor x) {
  if (comm_ == nullptr) return Backend::all_reduce_sum(x);
  expect_f32(*this, x, "all_reduce_sum input");
  comm_->all_reduce_sum(x.as<float>(), static_cast<size_t>(x.numel()));
}

void CpuBackend::all_gather(Tensor in, Tensor out) {
  if (comm_ == nullptr) return Backend::all_gather(in, out);
  expect_gather(*this, in, out, comm_->size());
  comm_->all_gather(in.as<float>(), static_cast<size_t>(in.numel()), out.as<float>());
}

}  // namespace llm
