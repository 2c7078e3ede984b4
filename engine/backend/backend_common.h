// Code CpuBackend and CudaBackend share rather than each keeping a copy.
#pragma once

#include <cstdint>
#include <string>

#include "engine/backend/backend.h"

namespace llm {

// Argument checks: each throws llm::Error(kUnsupported, "<be.name()> backend: <what>").
void expect(const Backend& be, bool ok, const std::string& what);
// "<what> must be f32, got <dtype>" unless `t` is f32.
void expect_f32(const Backend& be, const Tensor& t, const char* what);
// all_gather's operands: f32 `in`, and an `out` with room for `ranks` of it.
void expect_gather(const Backend& be, const Tensor& in, const Tensor& out, int ranks);

// The arguments of Backend::attention in the form of a paged-attention kernel's parameter struct
// (cpu::PagedAttentionArgs, cuda::PagedAttentionParams), which share these fields. Fields only
// one kernel has (the CUDA cache's element type) are the caller's to fill.
template <class Params>
Params attention_params(const Tensor& qkv, const Tensor& k_cache, const Tensor& v_cache,
                        const AttentionBatch& b, const AttentionShape& s, const Tensor& out) {
  Params p{};
  p.qkv = static_cast<decltype(p.qkv)>(qkv.data);
  p.ld = qkv.size(1);
  p.k_cache = static_cast<decltype(p.k_cache)>(k_cache.data);
  p.v_cache = static_cast<decltype(p.v_cache)>(v_cache.data);
  p.query_start = b.query_start.as<int32_t>();
  p.seq_lens = b.seq_lens.as<int32_t>();
  p.block_tables = b.block_tables.as<int32_t>();
  p.max_blocks_per_seq = static_cast<decltype(p.max_blocks_per_seq)>(b.block_tables.size(1));
  p.num_seqs = b.num_seqs;
  p.max_query_len = b.max_query_len;
  p.max_seq_len = b.max_seq_len;
  p.num_heads = s.num_heads;
  p.num_kv_heads = s.num_kv_heads;
  p.head_dim = s.head_dim;
  p.block_size = s.block_size;
  p.scale = s.scale;
  p.window = s.window;
  p.softcap = s.softcap;
  p.out = static_cast<decltype(p.out)>(out.data);
  return p;
}

// The element count of an upload, after checking that `src` fills `dst` exactly and that neither
// holds integers (weights are floats). Throws llm::Error naming `be` and the tensor.
int64_t upload_elements(const Backend& be, const HostTensor& src, const Tensor& dst);

// dst[i] = src[i] for i in [0, n), converted from `from` to `to` (each f32, bf16 or f16) through
// f32; to 16 bits rounds to nearest even. Both backends convert checkpoints with it, so a weight
// holds the same bits whichever backend loaded it. `from` may also be a quantized type (n a
// multiple of its block, src at a block boundary): its blocks are dequantized as GGUF defines.
void convert_floats(const void* src, DType from, void* dst, DType to, int64_t n);

}  // namespace llm
