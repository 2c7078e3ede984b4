#include "engine/kv/block_pool.h"

#include <algorithm>

#include "llm/error.h"

namespace llm {

BlockPool::BlockPool(int num_blocks, int block_size, bool enable_caching)
    : block_size_(block_size), caching_(enable_caching), blocks_(static_cast<size_t>(num_blocks)) {
  for (int32_t b = 0; b < num_blocks; ++b) push_tail(b);
}

uint64_t BlockPool::hash_block(uint64_t parent, std::span<const int32_t> tokens) {
  // splitmix64 folded over the ids: cheap, well mixed, and deterministic across runs.
  auto mix = [](uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  };
  uint64_t h = mix(parent);
  for (int32_t t : tokens) h = mix(h ^ static_cast<uint32_t>(t));
  return h;
}

void BlockPool::unlink(int32_t b) {
  Block& k = blocks_[static_cast<size_t>(b)];
  if (k.prev >= 0)
    blocks_[static_cast<size_t>(k.prev)].next = k.next;
  else
    head_ = k.next;
  if (k.next >= 0)
    blocks_[static_cast<size_t>(k.next)].prev = k.prev;
  else
    tail_ = k.prev;
  k.prev = k.next = -1;
  k.in_free = false;
  --num_free_;
}

void BlockPool::push_tail(int32_t b) {
  Block& k = blocks_[static_cast<size_t>(b)];
  k.prev = tail_;
  k.next = -1;
  if (tail_ >= 0)
    blocks_[static_cast<size_t>(tail_)].next = b;
  else
    head_ = b;
  tail_ = b;
  k.in_free = true;
  ++num_free_;
}

void BlockPool::evict(int32_t b) {
  Block& k = blocks_[static_cast<size_t>(b)];
  if (!k.cached) return;
  auto it = by_hash_.find(k.hash);
  if (it != by_hash_.end() && it->second == b) by_hash_.erase(it);
  k.cached = false;
  k.key.tokens.clear();
}

bool BlockPool::allocate(int n, std::vector<int32_t>& out) {
  if (n > num_free_) return false;
  for (int k = 0; k < n; ++k) {
    const int32_t b = head_;
    unlink(b);
    evict(b);
    blocks_[static_cast<size_t>(b)].ref = 1;
    out.push_back(b);
  }
  return true;
}

int32_t BlockPool::find_cached(uint64_t parent, std::span<const int32_t> tokens) const {
  if (!caching_) return -1;
  auto it = by_hash_.find(hash_block(parent, tokens));
  if (it == by_hash_.end()) return -1;
  const CacheKey& key = blocks_[static_cast<size_t>(it->second)].key;
  if (key.parent != parent ||
      !std::equal(tokens.begin(), tokens.end(), key.tokens.begin(), key.tokens.end())) {
    return -1;
  }
  return it->second;
}

void BlockPool::acquire(int32_t b) {
  if (blocks_[static_cast<size_t>(b)].in_free) unlink(b);
  ++blocks_[static_cast<size_t>(b)].ref;
}

void BlockPool::cache(int32_t b, uint64_t parent, std::span<const int32_t> tokens) {
  Block& k = blocks_[static_cast<size_t>(b)];
  if (!caching_ || k.cached || static_cast<int>(tokens.size()) != block_size_) return;
  const uint64_t h = hash_block(parent, tokens);
  // An equal block cached earlier (two sequences computed the same prefix at once) keeps its
  // entry; this one simply stays uncached.
  if (by_hash_.count(h)) return;
  by_hash_.emplace(h, b);
  k.hash = h;
  k.cached = true;
  k.key = CacheKey{parent, std::vector<int32_t>(tokens.begin(), tokens.end())};
}

void BlockPool::release(std::span<const int32_t> blocks) {
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    int32_t& ref = blocks_[static_cast<size_t>(*it)].ref;
    if (ref <= 0)
      throw Error(ErrorCode::kInternal, "KV block " + std::to_string(*it) + " released twice");
    if (--ref == 0) push_tail(*it);
  }
}

}  // namespace llm
