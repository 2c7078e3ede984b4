// Host entry point of the paged KV cache write.
#pragma once

#include "kernels/cuda/cuda_api.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// Copies each token's key and value heads from qkv ([num_tokens, ld] of qkv_type; keys start at
// column k_offset, values at v_offset, num_kv_heads heads of head_dim each) into the caches
// ([num_blocks, num_kv_heads, block_size, head_dim] of cache_type) at slot slot_mapping[t]
// (block slot / block_size, offset slot % block_size). Negative slots are skipped (padding).
void kv_write(const void* qkv, cudaDataType qkv_type, long long num_tokens, long long ld,
              long long k_offset, long long v_offset, const int* slot_mapping, int num_kv_heads,
              int head_dim, int block_size, void* k_cache, void* v_cache, cudaDataType cache_type,
              cudaStream_t stream);

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
