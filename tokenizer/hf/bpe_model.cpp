#include "tokenizer/hf/bpe_model.h"

#include <cstdio>
#include <queue>

#include "llm/error.h"
#include "tokenizer/hf/unicode.h"

namespace llm::hf {

BpeModel::BpeModel(std::vector<std::pair<std::string, TokenId>> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options, const std::string& where)
    : options_(std::move(options)) {
  TokenId max_id = -1;
  for (const auto& [token, id] : vocab) {
    if (id < 0) throw Error(ErrorCode::kCorruptFile, where + ": negative id for \"" + token + "\"");
    max_id = std::max(max_id, id);
  }
  id_to_token_.resize(static_cast<size_t>(max_id + 1));
  has_token_.assign(static_cast<size_t>(max_id + 1), false);
  vocab_.reserve(vocab.size());
  for (auto& [token, id] : vocab) {
    id_to_token_[static_cast<size_t>(id)] = token;
    has_token_[static_cast<size_t>(id)] = true;
    vocab_.insert_or_assign(std::move(token), id);
  }

  const size_t prefix_len =
      options_.continuing_subword_prefix ? options_.continuing_subword_prefix->size() : 0;
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const auto a_id = token_to_id(a);
    const auto b_id = token_to_id(b);
    // As `tokenizers`: the prefix length is cut from b whether or not b starts with it.
    const std::string merged = a + (b.size() >= prefix_len ? b.substr(prefix_len) : std::string());
    const auto new_id = token_to_id(merged);
    if (!a_id || !b_id || !new_id) {
      throw Error(ErrorCode::kCorruptFile, where + ": merge " + std::to_string(rank) + " (\"" + a +
                                               "\" \"" + b +
                                               "\") uses a token that is not in the vocabulary");
    }
    // A repeated pair keeps its last rank, as `tokenizers` collects merges into a map.
    merges_.insert_or_assign(pair_key(*a_id, *b_id), Merge{static_cast<uint32_t>(rank), *new_id});
  }

  if (options_.unk_token) {
    unk_id_ = token_to_id(*options_.unk_token);
    if (!unk_id_) {
      throw Error(ErrorCode::kCorruptFile,
                  where + ": unk_token \"" + *options_.unk_token + "\" is not in the vocabulary");
    }
  }
  if (options_.byte_fallback) {
    byte_ids_.resize(256);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      byte_ids_[static_cast<size_t>(b)] = token_to_id(name);
    }
  }
}

std::optional<TokenId> BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() ||
      !has_token_[static_cast<size_t>(id)]) {
    return nullptr;
  }
  return &id_to_token_[static_cast<size_t>(id)];
}

const BpeModel::Merge* BpeModel::find_merge(TokenId a, TokenId b) const {
  const auto it = merges_.find(pair_key(a, b));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::encode(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const auto id = token_to_id(word)) {
      out.push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() < kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(
        std::string(word),
        std::vector<TokenId>(out.begin() + static_cast<std::ptrdiff_t>(before), out.end()));
  }
}

// `tokenizers`' BPE::merge_word and Word::merge_all, step for step: the same initial symbols
// (unknown characters fused or not, byte fallback), the same priority (lowest rank, then
// leftmost), and the same test for stale queue entries (the pair now at that position must still
// merge into the same id).
void BpeModel::merge_word(std::string_view word, std::vector<TokenId>& out) const {
  struct Symbol {
    TokenId id;
    int prev;
    int next;
    bool removed;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&](TokenId id) {
    const int index = static_cast<int>(symbols.size());
    if (index > 0) symbols.back().next = index;
    symbols.push_back({id, index - 1, -1, false});
  };
  TokenId pending_unk = -1;  // an unknown token not yet added (fuse_unk grows it)
  std::string piece;
  for (size_t pos = 0; pos < word.size();) {
    const size_t start = pos;
    pos += utf8_length(static_cast<unsigned char>(word[pos]));
    piece.clear();
    if (start != 0 && options_.continuing_subword_prefix)
      piece += *options_.continuing_subword_prefix;
    piece.append(word.substr(start, pos - start));
    if (pos >= word.size() && options_.end_of_word_suffix) piece += *options_.end_of_word_suffix;

    if (const auto id = token_to_id(piece)) {
      if (pending_unk >= 0) add(pending_unk);
      pending_unk = -1;
      add(*id);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (const char c : piece) all = all && byte_ids_[static_cast<unsigned char>(c)].has_value();
      if (all) {
        // Any unknown token waiting stays pending, as in `tokenizers`.
        for (const char c : piece) add(*byte_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk >= 0 && !options_.fuse_unk) add(pending_unk);
      pending_unk = *unk_id_;
    }
    // With no unk token the character is dropped, as `tokenizers` does.
  }
  if (pending_unk >= 0) add(pending_unk);

  struct Entry {
    uint32_t rank;
    int pos;
    TokenId new_id;
    bool operator<(const Entry& o) const {
      // std::priority_queue pops the largest: make the lowest rank, then lowest pos, largest.
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Entry> queue;
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (const Merge* m = find_merge(symbols[i].id, symbols[i + 1].id)) {
      queue.push({m->rank, static_cast<int>(i), m->new_id});
    }
  }
  while (!queue.empty()) {
    const Entry top = queue.top();
    queue.pop();
    Symbol& cur = symbols[static_cast<size_t>(top.pos)];
    if (cur.removed || cur.next == -1) continue;
    const int next_pos = cur.next;
    Symbol& right = symbols[static_cast<size_t>(next_pos)];
    const Merge* now = find_merge(cur.id, right.id);
    if (!now || now->new_id != top.new_id) continue;
    cur.id = top.new_id;
    cur.next = right.next;
    right.removed = true;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
    if (cur.prev >= 0) {
      if (const Merge* m = find_merge(symbols[static_cast<size_t>(cur.prev)].id, cur.id)) {
        queue.push({m->rank, cur.prev, m->new_id});
      }
    }
    if (cur.next >= 0) {
      if (const Merge* m = find_merge(cur.id, symbols[static_cast<size_t>(cur.next)].id)) {
        queue.push({m->rank, top.pos, m->new_id});
      }
    }
  }
  for (const Symbol& s : symbols) {
    if (!s.removed) out.push_back(s.id);
  }
}

}  // namespace llm::hf
