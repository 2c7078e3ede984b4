#include "engine/scheduler.h"

#include <algorithm>

namespace llm {

Scheduler::Scheduler(const SchedulerConfig& config, KvCacheManager& kv)
    : config_(config), kv_(&kv) {}

void Scheduler::add(Sequence* seq, bool front) {
  seq->status = SeqStatus::kWaiting;
  if (front)
    waiting_.push_front(seq);
  else
    waiting_.push_back(seq);
}

void Scheduler::preempt(Sequence* seq, SchedulerOutput& out) {
  // Recompute, not swap: the blocks go back to the pool (full ones stay in the prefix cache,
  // so the recompute is often cheap) and the sequence waits at the head of the queue.
  kv_->free(*seq);
  running_.erase(std::find(running_.begin(), running_.end(), seq));
  waiting_.push_front(seq);
  seq->status = SeqStatus::kWaiting;
  out.preempted.push_back(seq);
  ++num_preemptions_;
}

SchedulerOutput Scheduler::schedule() {
  SchedulerOutput out;
  int budget = config_.max_num_batched_tokens;

  // 1. Running sequences, oldest first: a decode takes one token, an unfinished prefill a chunk.
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Sequence* seq = running_[i];
    const int n = std::min(seq->num_uncomputed(), budget);
    if (n == 0) {  // nothing new to run (cannot happen while the engine appends each sample)
      ++i;
      continue;
    }
    bool scheduled = false;
    while (!scheduled) {
      if (kv_->allocate(*seq, n)) {
        scheduled = true;
      } else if (running_.back() != seq) {
        preempt(running_.back(), out);
      } else {
        break;  // seq itself is the most recent: it yields
      }
    }
    if (!scheduled) {
      preempt(seq, out);
      break;
    }
    out.scheduled.push_back(
        {seq, n, seq->num_computed + n == static_cast<int>(seq->tokens.size())});
    budget -= n;
    ++i;
  }

  // 2. Waiting sequences, in order, unless this step had to preempt (no room to admit then).
  while (out.preempted.empty() && !waiting_.empty() && budget > 0 &&
         static_cast<int>(running_.size()) < config_.max_num_seqs) {
    Sequence* seq = waiting_.front();
    const bool fresh = seq->block_table.empty();
    if (fresh) kv_->claim_cached_prefix(*seq);
    const int n = std::min(seq->num_uncomputed(), budget);
    if (!kv_->allocate(*seq, n)) {
      kv_->free(*seq);  // give back the claimed prefix blocks; try again next step
      break;
    }
    if (fresh) kv_->record_prefix_lookup(*seq);
    if (fresh && seq->num_output_tokens() == 0) seq->num_cached_prompt_tokens = seq->num_computed;
    waiting_.pop_front();
    running_.push_back(seq);
    seq->status = SeqStatus::kRunning;
    out.scheduled.push_back(
        {seq, n, seq->num_computed + n == static_cast<int>(seq->tokens.size())});
    budget -= n;
  }
  out.num_tokens = config_.max_num_batched_tokens - budget;
  return out;
}

void Scheduler::complete_step(const SchedulerOutput& out) {
  for (const ScheduledSeq& s : out.scheduled) {
    s.seq->num_computed += s.num_tokens;
    kv_->cache_full_blocks(*s.seq);
  }
}

void Scheduler::remove(Sequence* seq) {
  if (auto it = std::find(running_.begin(), running_.end(), seq); it != running_.end())
    running_.erase(it);
  if (auto it = std::find(waiting_.begin(), waiting_.end(), seq); it != waiting_.end())
    waiting_.erase(it);
  kv_->free(*seq);
  seq->status = SeqStatus::kFinished;
}

}  // namespace llm
