// ModelRunner: turns the scheduler's per-sequence view of a step (which tokens, which blocks)
// into the flat metadata the kernels read (positions, slot mapping, block tables), runs the
// model and hands back the logits. The only place block tables become slot numbers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/kv/kv_cache.h"
#include "engine/model/llama_model.h"

namespace llm {

// One sequence's share of a step.
struct BatchEntry {
  std::span<const int32_t> tokens;       // new tokens to run: a prefill chunk or the last sample
  int num_computed = 0;                  // tokens of this sequence already in the KV cache
  std::span<const int32_t> block_table;  // physical blocks covering num_computed + tokens.size()
  bool wants_logits = true;              // false for a prefill chunk that is not the last
};

class ModelRunner {
 public:
  // Buffers for up to max_num_tokens tokens and max_num_seqs sequences per step are allocated
  // here, once.
  ModelRunner(Backend& backend, const LlamaModel& model, const KvCache& cache, int max_num_tokens,
              int max_num_seqs);

  // Runs one step. Returns [L, vocab] logits row-major for the entries that want them, in
  // entry order; valid until the next call. On a split model every rank calls this with the
  // same batch, and every rank gets the whole logits. Throws llm::Error (kInternal) when the batch
  // exceeds the limits or a block table is too short.
  std::span<const float> execute(std::span<const BatchEntry> batch);

  int max_num_tokens() const { return max_num_tokens_; }
  int max_num_seqs() const { return max_num_seqs_; }

 private:
  Backend* backend_;
  const LlamaModel* model_;
  const KvCache* cache_;
  int max_num_tokens_, max_num_seqs_, max_blocks_per_seq_, vocab_;
  TensorParallelShard shard_;  // the model's: a split model's logits are gathered from all ranks
  Workspace ws_;
  // Device-side step metadata (i32) and logits (f32), sized for the limits.
  OwnedTensor ids_, positions_, slots_, query_start_, seq_lens_, block_tables_, logits_indices_;
  OwnedTensor logits_;    // [max_num_seqs, shard.vocab_rows]: this rank's vocabulary columns
  OwnedTensor gathered_;  // [ranks, max_num_seqs * vocab_rows]: every rank's, when split
  // Host staging for the same, reused every step.
  std::vector<int32_t> h_ids_, h_positions_, h_slots_, h_query_start_, h_seq_lens_, h_tables_,
      h_logits_indices_;
  std::vector<float> h_logits_;    // [max_num_seqs, vocab]
  std::vector<float> h_gathered_;  // staging of gathered_
};

}  // namespace llm
