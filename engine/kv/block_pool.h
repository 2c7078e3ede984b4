// BlockPool: every KV block's reference count, the free queue in eviction order, and the prefix
// cache that maps a full block's content (parent hash, token ids) to the block holding it.
//
// A block is in one of three states: in use (ref > 0); free and cached (ref 0, content still
// valid, findable by hash, evicted least-recently-used when a fresh block is needed); free and
// empty. Both kinds of free block sit in one queue; allocation takes from its head.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace llm {

class BlockPool {
 public:
  BlockPool(int num_blocks, int block_size, bool enable_caching);

  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  int num_free() const { return num_free_; }
  int num_used() const { return num_blocks() - num_free_; }
  bool caching_enabled() const { return caching_; }

  // Takes `n` blocks from the head of the free queue (evicting their cached content), each with
  // ref 1, appended to `out`. Returns false and takes nothing when fewer than n are free.
  bool allocate(int n, std::vector<int32_t>& out);
  // The cached block holding `tokens` (block_size ids) after the prefix hashed `parent`, or -1.
  int32_t find_cached(uint64_t parent, std::span<const int32_t> tokens) const;
  // Adds a reference to a block (taking it off the free queue when it was free).
  void acquire(int32_t block);
  // Publishes a full block's content so later prompts with the same prefix reuse it.
  void cache(int32_t block, uint64_t parent, std::span<const int32_t> tokens);
  // Drops one reference from each block; blocks reaching 0 join the free queue's tail in
  // reverse order, so a sequence's last blocks are evicted before its first (shared) ones.
  void release(std::span<const int32_t> blocks);

  // Chained content hash of a block: equal prefixes give equal hash chains.
  static uint64_t hash_block(uint64_t parent, std::span<const int32_t> tokens);
  static constexpr uint64_t kRootHash = 0x9e3779b97f4a7c15ull;

 private:
  struct CacheKey {
    uint64_t parent = 0;
    std::vector<int32_t> tokens;  // verified on lookup, so a hash collision is never a hit
  };
  // All the pool knows of one block, together, so no two vectors can disagree on its count.
  struct Block {
    int32_t ref = 0;
    // Neighbours in the free queue, an intrusive doubly linked list over block ids (-1 ends it).
    int32_t prev = -1, next = -1;
    bool in_free = false;
    bool cached = false;
    uint64_t hash = 0;  // valid where cached
    CacheKey key;
  };
  void unlink(int32_t b);
  void push_tail(int32_t b);
  void evict(int32_t b);

  int block_size_;
  bool caching_;
  std::vector<Block> blocks_;      // [num_blocks], by block id
  int32_t head_ = -1, tail_ = -1;  // of the free queue
  int num_free_ = 0;
  std::unordered_map<uint64_t, int32_t> by_hash_;
};

}  // namespace llm
