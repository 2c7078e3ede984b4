#include "engine/kv/kv_cache_manager.h"

namespace llm {

KvCacheManager::KvCacheManager(int num_blocks, int block_size, bool enable_prefix_caching)
    : block_size_(block_size), pool_(num_blocks, block_size, enable_prefix_caching) {}

int KvCacheManager::claim_cached_prefix(Sequence& seq) {
  seq.num_computed = 0;
  if (!pool_.caching_enabled()) return 0;
  const int total = static_cast<int>(seq.tokens.size());
  // The last token must be computed to get logits, so a fully cached prompt still runs it.
  const int max_blocks = (total - 1) / block_size_;
  uint64_t parent = BlockPool::kRootHash;
  for (int b = 0; b < max_blocks; ++b) {
    std::span<const int32_t> toks(seq.tokens.data() + static_cast<size_t>(b) * block_size_,
                                  static_cast<size_t>(block_size_));
    const int32_t block = pool_.find_cached(parent, toks);
    if (block < 0) break;
    pool_.acquire(block);
    seq.block_table.push_back(block);
    parent = BlockPool::hash_block(parent, toks);
    seq.block_hashes.push_back(parent);
  }
  seq.num_computed = static_cast<int>(seq.block_table.size()) * block_size_;
  return seq.num_computed;
}

void KvCacheManager::record_prefix_lookup(const Sequence& seq) {
  if (!pool_.caching_enabled()) return;
  queries_ += static_cast<int64_t>(seq.tokens.size());
  hits_ += seq.num_computed;
}

bool KvCacheManager::allocate(Sequence& seq, int num_new_tokens) {
  const int need =
      blocks_needed(seq.num_computed + num_new_tokens) - static_cast<int>(seq.block_table.size());
  return need <= 0 || pool_.allocate(need, seq.block_table);
}

void KvCacheManager::cache_full_blocks(Sequence& seq) {
  if (!pool_.caching_enabled()) return;
  const size_t full = static_cast<size_t>(seq.num_computed / block_size_);
  while (seq.block_hashes.size() < full) {
    const size_t b = seq.block_hashes.size();
    const uint64_t parent = b == 0 ? BlockPool::kRootHash : seq.block_hashes[b - 1];
    std::span<const int32_t> toks(seq.tokens.data() + b * static_cast<size_t>(block_size_),
                                  static_cast<size_t>(block_size_));
    pool_.cache(seq.block_table[b], parent, toks);
    seq.block_hashes.push_back(BlockPool::hash_block(parent, toks));
  }
}

void KvCacheManager::free(Sequence& seq) {
  pool_.release(seq.block_table);
  seq.block_table.clear();
  seq.block_hashes.clear();
  seq.num_computed = 0;
}

}  // namespace llm
