// Scheduler: continuous batching. Each step runs every decoding sequence's next token, then
// prompt tokens (of running prompts first, then of waiting ones, FCFS) within two budgets: the
// step's tokens (max_num_batched_tokens) and the step's prompt tokens
// (max_prefill_tokens_per_step), chunking long prompts across steps. The second budget is what
// keeps first tokens early: a wave of prompts is prefilled a few per step, so each gets its first
// token as soon as its own prompt is done, and the running streams keep decoding meanwhile.
// When KV blocks run out, the most recently admitted running sequence is preempted (its blocks
// freed; it is recomputed later).
// It knows nothing of models or HTTP: a test can drive it with a fake model.
#pragma once

#include <algorithm>
#include <deque>
#include <vector>

#include "engine/kv/kv_cache_manager.h"
#include "engine/sequence.h"

namespace llm {

struct SchedulerConfig {
  int max_num_seqs = 64;
  int max_num_batched_tokens = 2048;
  // Prompt (and recompute) tokens per step, all sequences together; decodes are not counted.
  // 0: no limit but max_num_batched_tokens (a whole wave of prompts prefilled in one step).
  int max_prefill_tokens_per_step = 0;

  // The most tokens one step can hold: every running sequence's decode plus the prefill budget,
  // within max_num_batched_tokens. The model's activations are sized by it, so a server with
  // the default 256-token prefill budget does not hold buffers for 2048-token steps.
  int max_step_tokens() const {
    return max_prefill_tokens_per_step > 0
               ? std::min(max_num_batched_tokens, max_num_seqs + max_prefill_tokens_per_step)
               : max_num_batched_tokens;
  }
};

struct ScheduledSeq {
  Sequence* seq = nullptr;
  int num_tokens = 0;         // tokens of seq to run this step, from seq->num_computed on
  bool wants_logits = false;  // this step reaches the end of seq's tokens: sample after it
};

struct SchedulerOutput {
  std::vector<ScheduledSeq> scheduled;
  std::vector<Sequence*> preempted;  // sent back to the waiting queue during this step
  int num_tokens = 0;
  bool empty() const { return scheduled.empty(); }
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, KvCacheManager& kv);

  // Queues a sequence at the back (FCFS), or at the front for one that must go next.
  void add(Sequence* seq, bool front = false);
  SchedulerOutput schedule();
  // After the model ran the step: the scheduled tokens are now in the cache.
  void complete_step(const SchedulerOutput& out);
  // Removes seq wherever it is and frees its blocks (finish or abort). Safe to call twice.
  void remove(Sequence* seq);

  bool has_work() const { return !running_.empty() || !waiting_.empty(); }
  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  int64_t num_preemptions() const { return num_preemptions_; }
  const std::vector<Sequence*>& running() const { return running_; }

 private:
  void preempt(Sequence* seq, SchedulerOutput& out);

  SchedulerConfig config_;
  KvCacheManager* kv_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;  // in admission order: the tail is preempted first
  std::vector<int> planned_;        // tokens planned for running_[i] this step (reused)
  int64_t num_preemptions_ = 0;
};

}  // namespace llm
