// The BPE model of tokenizer.json, as `tokenizers`' models::bpe::BPE encodes one word: the word's
// characters (or their byte-fallback / unknown tokens) merged pair by pair, lowest merge rank
// first. Built from an in-memory vocabulary and merge list, so a GGUF file's tokenizer (vocab,
// merges) can construct it as well as a tokenizer.json can.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer_backend.h"

namespace llm::hf {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::optional<std::string> continuing_subword_prefix;
  std::optional<std::string> end_of_word_suffix;
  bool fuse_unk = false;
  bool byte_fallback = false;
  // A word that is itself in the vocabulary is that token, whatever the merges would make of it.
  bool ignore_merges = false;
};

class BpeModel {
 public:
  // MERGES in rank order. WHERE names the source for messages (kCorruptFile when a merge or the
  // unk token is not in the vocabulary, as `tokenizers` refuses them).
  BpeModel(std::vector<std::pair<std::string, TokenId>> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
           const std::string& where);

  // Appends WORD's tokens to OUT. Thread-safe.
  void encode(std::string_view word, std::vector<TokenId>& out) const;

  std::optional<TokenId> token_to_id(std::string_view token) const;
  const std::string* id_to_token(TokenId id) const;  // null when ID has no token
  int vocab_size() const { return static_cast<int>(id_to_token_.size()); }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Merge {
    uint32_t rank;
    TokenId new_id;
  };
  static uint64_t pair_key(TokenId a, TokenId b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const Merge* find_merge(TokenId a, TokenId b) const;
  void merge_word(std::string_view word, std::vector<TokenId>& out) const;

  std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_token_;
  std::unordered_map<uint64_t, Merge> merges_;
  BpeOptions options_;
  std::optional<TokenId> unk_id_;
  std::vector<std::optional<TokenId>> byte_ids_;  // <0xNN> tokens, for byte_fallback

  // Words already merged (as `tokenizers` keeps one): most text repeats its words. Bounded, and
  // cleared when full rather than tracking recency.
  static constexpr size_t kCacheCapacity = 10000;
  static constexpr size_t kCacheMaxWordBytes = 256;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> cache_;
};

}  // namespace llm::hf
