// KvCacheManager: gives sequences the blocks they need, reusing cached prefix blocks; the only
// thing the scheduler asks about KV memory.
#pragma once

#include <cstdint>

#include "engine/kv/block_pool.h"
#include "engine/sequence.h"

namespace llm {

class KvCacheManager {
 public:
  KvCacheManager(int num_blocks, int block_size, bool enable_prefix_caching);

  int block_size() const { return block_size_; }
  const BlockPool& pool() const { return pool_; }

  // For a sequence that holds no blocks: takes the cached blocks of its longest cached prefix
  // (always leaving at least one token to compute, whose logits are needed) and sets
  // num_computed to the tokens they hold. Returns that count.
  int claim_cached_prefix(Sequence& seq);
  // Counts an admitted sequence's lookup (its tokens, and num_computed of them cached) in the
  // prefix-cache hit rate. Separate from the claim so a retried admission counts once.
  void record_prefix_lookup(const Sequence& seq);
  // Grows seq's block table to cover num_computed + num_new_tokens. Returns false, taking
  // nothing, when the pool is short.
  bool allocate(Sequence& seq, int num_new_tokens);
  // Publishes the blocks of seq whose tokens are now all computed.
  void cache_full_blocks(Sequence& seq);
  // Returns every block of seq to the pool and resets its KV state (num_computed = 0).
  void free(Sequence& seq);

  int blocks_needed(int num_tokens) const { return (num_tokens + block_size_ - 1) / block_size_; }
  int64_t prefix_queries() const { return queries_; }
  int64_t prefix_hits() const { return hits_; }

 private:
  int block_size_;
  BlockPool pool_;
  int64_t queries_ = 0, hits_ = 0;
};

}  // namespace llm
