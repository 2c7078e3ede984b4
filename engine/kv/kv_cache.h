// KvCache: the paged key/value storage of every layer, allocated once from a block count.
// Which blocks belong to which sequence is the BlockPool's business, not this class's.
#pragma once

#include <vector>

#include "engine/backend/backend.h"
#include "llm/model_config.h"

namespace llm {

class KvCache {
 public:
  KvCache(Backend& backend, const ModelConfig& config, int num_blocks, int block_size, DType dtype);

  // Bytes one block takes across all layers (keys and values).
  static size_t bytes_per_block(const ModelConfig& config, int block_size, DType dtype);

  int num_blocks() const { return num_blocks_; }
  int block_size() const { return block_size_; }
  // Bytes of every layer's keys and values together.
  size_t bytes() const {
    size_t total = 0;
    for (const auto& t : k_) total += t.buffer.bytes();
    for (const auto& t : v_) total += t.buffer.bytes();
    return total;
  }
  // [num_blocks, num_kv_heads, block_size, head_dim] of layer `layer`.
  Tensor keys(int layer) const { return k_[static_cast<size_t>(layer)].tensor; }
  Tensor values(int layer) const { return v_[static_cast<size_t>(layer)].tensor; }

 private:
  int num_blocks_;
  int block_size_;
  std::vector<OwnedTensor> k_, v_;
};

}  // namespace llm
