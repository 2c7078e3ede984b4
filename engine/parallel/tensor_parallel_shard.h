// TensorParallelShard: which slice of a Llama model one tensor-parallel rank holds (Megatron
// layout). Query heads and the MLP's intermediate features are split evenly; key/value heads
// are split when their count divides by the size and replicated (one per rank) when the size is
// a multiple of it; the vocabulary (embedding rows, lm_head rows) is cut in ceil(vocab / size)
// row shards, the last one padded with zero rows whose logits are dropped.
#pragma once

#include <cstdint>

#include "llm/model_config.h"

namespace llm {

struct TensorParallelShard {
  int rank = 0;
  int size = 1;
  int num_heads = 0;     // local query heads: [rank * num_heads, (rank + 1) * num_heads)
  int num_kv_heads = 0;  // local key/value heads, from global head first_kv_head
  int first_kv_head = 0;
  int intermediate = 0;     // local MLP features: [rank * intermediate, ...)
  int64_t vocab_rows = 0;   // rows of the (padded) vocabulary shard
  int64_t vocab_begin = 0;  // global id of the shard's first row
  int64_t vocab_valid = 0;  // rows of the shard that are real tokens (the rest is padding)

  // Validates `size` against the model and describes rank `rank`'s slice. Throws llm::Error
  // (kInvalidArgument) naming the numbers when the model cannot be split that way.
  static TensorParallelShard make(const ModelConfig& c, int rank, int size);

  // The config one rank runs: its own head and feature counts (vocab_size stays global).
  ModelConfig local_config(const ModelConfig& c) const;
};

}  // namespace llm
