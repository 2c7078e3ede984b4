#include "engine/parallel/tensor_parallel_shard.h"

#include <algorithm>
#include <string>

#include "llm/error.h"

namespace llm {

TensorParallelShard TensorParallelShard::make(const ModelConfig& c, int rank, int size) {
  auto bad = [&](const std::string& why) {
    throw Error(ErrorCode::kInvalidArgument,
                "--tensor-parallel-size " + std::to_string(size) + ": " + why);
  };
  if (size < 1) bad("must be at least 1");
  if (rank < 0 || rank >= size) bad("rank " + std::to_string(rank) + " is out of range");
  if (c.num_heads % size != 0) {
    bad("must divide the model's " + std::to_string(c.num_heads) + " attention heads");
  }
  if (c.num_kv_heads % size != 0 && size % c.num_kv_heads != 0) {
    bad("must divide the model's " + std::to_string(c.num_kv_heads) +
        " key/value heads or be a multiple of them");
  }
  if (c.intermediate_size % size != 0) {
    bad("must divide the model's MLP size of " + std::to_string(c.intermediate_size));
  }
  TensorParallelShard s;
  s.rank = rank;
  s.size = size;
  s.num_heads = c.num_heads / size;
  if (c.num_kv_heads % size == 0) {
    s.num_kv_heads = c.num_kv_heads / size;
    s.first_kv_head = rank * s.num_kv_heads;
  } else {  // more ranks than key/value heads: each rank keeps the one its query heads read
    s.num_kv_heads = 1;
    s.first_kv_head = rank * s.num_heads / (c.num_heads / c.num_kv_heads);
  }
  s.intermediate = c.intermediate_size / size;
  s.vocab_rows = (c.vocab_size + size - 1) / size;
  s.vocab_begin = rank * s.vocab_rows;
  s.vocab_valid = std::clamp<int64_t>(c.vocab_size - s.vocab_begin, 0, s.vocab_rows);
  return s;
}

ModelConfig TensorParallelShard::local_config(const ModelConfig& c) const {
  ModelConfig l = c;
  l.num_heads = num_heads;
  l.num_kv_heads = num_kv_heads;
  l.intermediate_size = intermediate;
  return l;
}

}  // namespace llm
