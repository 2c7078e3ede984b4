// ModelRunner: turns the scheduler's per-sequence view of a step (which tokens, which blocks)
// into the flat metadata the kernels read (positions, slot mapping, block tables), runs the
// model and hands back the logits. The only place block tables become slot numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/host_array.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/llama_model.h"

namespace llm {

// One sequence's share of a step.
struct BatchEntry {
  std::span<const int32_t> tokens;       // new tokens to run: a prefill chunk or the last sample
  int num_computed = 0;                  // tokens of this sequence already in the KV cache
  std::span<const int32_t> block_table;  // physical blocks covering num_computed + tokens.size()
  bool wants_logits = true;              // false for a prefill chunk that is not the last
  // Only the argmax of this entry's logits is wanted (it samples greedily from raw logits).
  bool greedy = false;
  // longrope: the sequence is longer than the pretrained context (the engine decides, as
  // transformers does from the forward's length), so RoPE uses the long factors.
  bool long_rope = false;
  // Set when the row samples with nothing but temperature, top-k, top-p and min-p (and its
  // draw already taken): the backend may sample it on the device.
  std::optional<RowSampling> sampling;
};

// What a step gives back for the entries that want logits, in entry order: either their
// logits, or (when every one of them is greedy) just their argmax ids.
struct StepOutput {
  std::span<const float> logits;   // [L, vocab], or empty
  std::span<const int32_t> ids;    // [L], or empty
  // With device-sampled ids, for the rows whose RowSampling wanted logprobs (else empty):
  // [L, 1 + kDeviceTopLogprobs] (the chosen token's, then the alternatives') and their ids
  // [L, kDeviceTopLogprobs], as Backend::sample writes them.
  std::span<const float> lp_values;
  std::span<const int32_t> lp_ids;
};

class ModelRunner {
 public:
  // Buffers for up to max_num_tokens tokens and max_num_seqs sequences per step are allocated
  // here, once.
  // With `cuda_graphs`, decode-only steps are padded to a batch-size bucket (1, 2, 4, ...,
  // max_num_seqs) and replayed through Backend::replay_graph, one graph per bucket.
  ModelRunner(Backend& backend, const LlamaModel& model, const KvCache& cache, int max_num_tokens,
              int max_num_seqs, bool cuda_graphs = false);

  // Runs one step. Returns [L, vocab] logits row-major for the entries that want them, in
  // entry order; valid until the next call. On a split model every rank calls this with the
  // same batch, and every rank gets the whole logits. Throws llm::Error (kInternal) when the batch
  // exceeds the limits or a block table is too short.
  std::span<const float> execute(std::span<const BatchEntry> batch);
  // The same step for a caller that only wants each row's argmax (every row samples greedily
  // from raw logits): [L] token ids, computed on the device when the backend can (unsplit
  // models), so only the ids cross to the host.
  std::span<const int32_t> execute_greedy(std::span<const BatchEntry> batch);
  // The step as the engine runs it: execute_greedy when every entry wanting logits is greedy;
  // sampled on the device when every one is greedy or carries `sampling` and the backend can
  // (unsplit models); else execute.
  StepOutput step(std::span<const BatchEntry> batch);

  int max_num_tokens() const { return max_num_tokens_; }
  // Steps that ran as a replayed CUDA graph.
  int64_t graphed_steps() const { return graphed_steps_; }
  int max_num_seqs() const { return max_num_seqs_; }

 private:
  Backend* backend_;
  const LlamaModel* model_;
  const KvCache* cache_;
  // Builds the step's inputs, runs the model and returns this rank's logits [L, vocab_rows] on
  // the backend (L is the number of entries wanting logits).
  Tensor run(std::span<const BatchEntry> batch);
  // The smallest graph bucket holding n sequences (0: the step is not graphed).
  int graph_bucket(std::span<const BatchEntry> batch) const;

  int max_num_tokens_, max_num_seqs_, max_blocks_per_seq_, vocab_;
  bool cuda_graphs_;
  int64_t graphed_steps_ = 0;
  TensorParallelShard shard_;  // the model's: a split model's logits are gathered from all ranks
  Workspace ws_;
  // Device-side step metadata (i32) and logits (f32), sized for the limits.
  OwnedTensor ids_, positions_, slots_, query_start_, seq_lens_, block_tables_, logits_indices_;
  OwnedTensor logits_;    // [max_num_seqs, shard.vocab_rows]: this rank's vocabulary columns
  OwnedTensor gathered_;  // [ranks, max_num_seqs * vocab_rows]: every rank's, when split
  OwnedTensor argmax_;    // [max_num_seqs] i32: execute_greedy's ids
  // Host staging for the same, reused every step, in the backend's page-locked host memory:
  // the metadata's copies run asynchronously and the logits come back at the bus's full rate.
  HostArray<int32_t> h_ids_, h_positions_, h_slots_;  // [max_num_tokens]
  HostArray<int32_t> h_query_start_;                  // [max_num_seqs + 1]
  HostArray<int32_t> h_seq_lens_, h_logits_indices_;  // [max_num_seqs]
  HostArray<int32_t> h_tables_;                       // [max_num_seqs, max_blocks_per_seq]
  HostArray<float> h_logits_;                         // [max_num_seqs, vocab]
  HostArray<float> h_gathered_;  // [ranks, max_num_seqs * vocab_rows]: staging of gathered_
  HostArray<int32_t> h_argmax_;  // [max_num_seqs]
  std::vector<RowSampling> rows_;  // step()'s per-row sampling parameters
  OwnedTensor lp_values_;          // [max_num_seqs, 1 + kDeviceTopLogprobs] f32
  OwnedTensor lp_ids_;             // [max_num_seqs, kDeviceTopLogprobs] i32
  HostArray<float> h_lp_values_;
  HostArray<int32_t> h_lp_ids_;
};

}  // namespace llm
