// Scheduler: continuous batching. Each step runs every running sequence's next token(s) and as
// many prompt tokens of waiting sequences as the token budget and max_num_seqs allow, chunking
// long prompts across steps. When KV blocks run out, the most recently admitted running
// sequence is preempted (its blocks freed; it is recomputed later). FCFS otherwise.
// It knows nothing of models or HTTP: a test can drive it with a fake model.
#pragma once

#include <deque>
#include <vector>

#include "engine/kv/kv_cache_manager.h"
#include "engine/sequence.h"

namespace llm {

struct SchedulerConfig {
  int max_num_seqs = 64;
  int max_num_batched_tokens = 2048;
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
  int64_t num_preemptions_ = 0;
};

}  // namespace llm
