#include "engine/kv/kv_cache.h"

namespace llm {

size_t KvCache::bytes_per_block(const ModelConfig& c, int block_size, DType dtype) {
  return 2 * static_cast<size_t>(c.num_layers) * static_cast<size_t>(c.kv_size()) *
         static_cast<size_t>(block_size) * dtype_size(dtype);
}

KvCache::KvCache(Backend& backend, const ModelConfig& c, int num_blocks, int block_size,
                 DType dtype)
    : num_blocks_(num_blocks), block_size_(block_size) {
  for (int l = 0; l < c.num_layers; ++l) {
    for (auto* side : {&k_, &v_}) {
      OwnedTensor t;
      t.buffer = backend.alloc(static_cast<size_t>(num_blocks) * c.num_kv_heads * block_size *
                               c.head_dim * dtype_size(dtype));
      t.tensor = t.buffer.view(dtype, {num_blocks, c.num_kv_heads, block_size, c.head_dim});
      side->push_back(std::move(t));
    }
  }
}

}  // namespace llm
