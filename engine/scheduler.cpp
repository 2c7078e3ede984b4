#include "engine/scheduler.h"

#include <algorithm>

namespace llm {
namespace {

// seq runs n tokens this step; it samples after them when they reach the end of its tokens.
ScheduledSeq to_run(Sequence* seq, int n) {
  return {seq, n, seq->num_computed + n == static_cast<int>(seq->tokens.size())};
}

}  // namespace

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
  int prefill_budget = config_.max_prefill_tokens_per_step > 0
                           ? std::min(config_.max_prefill_tokens_per_step, budget)
                           : budget;

  // 1. Plan the running sequences' tokens. Decodes first, so that prompts never hold back a
  // stream that is already generating. A sequence with one token left counts as a decode even
  // if it is a prompt's last token: it costs one token and yields a token.
  planned_.assign(running_.size(), 0);
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    if (running_[i]->num_uncomputed() == 1) {
      planned_[i] = 1;
      --budget;
    }
  }
  // Then the prompts admitted in earlier steps and not yet done, oldest first, from the prefill
  // budget. Admission (step 3) only gets what they leave, so at most one admitted prompt is
  // unfinished at a time: the prompt closest to its first token is always the one that goes on,
  // an old long prompt progresses every step, and first tokens arrive one by one in arrival
  // order instead of all together at the end of a wave.
  for (size_t i = 0; i < running_.size(); ++i) {
    const int left = running_[i]->num_uncomputed();
    if (left <= 1) continue;
    const int n = std::min({left, budget, prefill_budget});
    if (n == 0) break;
    planned_[i] = n;
    budget -= n;
    prefill_budget -= n;
  }

  // 2. Blocks for the plan, in admission order: when the pool is short, the most recently
  // admitted sequence is preempted, which is always one not yet given its blocks this step.
  for (size_t i = 0; i < running_.size();) {
    Sequence* seq = running_[i];
    const int n = planned_[i];
    if (n == 0) {  // over the budget this step (or nothing new to run)
      ++i;
      continue;
    }
    bool scheduled = false;
    while (!scheduled) {
      if (kv_->allocate(*seq, n)) {
        scheduled = true;
      } else if (running_.back() != seq) {
        preempt(running_.back(), out);
        planned_.pop_back();
      } else {
        break;  // seq itself is the most recent: it yields
      }
    }
    if (!scheduled) {
      preempt(seq, out);
      break;
    }
    out.scheduled.push_back(to_run(seq, n));
    ++i;
  }

  // 3. Waiting sequences, in order, with what is left of both budgets, unless this step had to
  // preempt (no room to admit then).
  while (out.preempted.empty() && !waiting_.empty() && budget > 0 && prefill_budget > 0 &&
         static_cast<int>(running_.size()) < config_.max_num_seqs) {
    Sequence* seq = waiting_.front();
    const bool fresh = seq->block_table.empty();
    if (fresh) kv_->claim_cached_prefix(*seq);
    const int n = std::min({seq->num_uncomputed(), budget, prefill_budget});
    if (!kv_->allocate(*seq, n)) {
      kv_->free(*seq);  // give back the claimed prefix blocks; try again next step
      break;
    }
    if (fresh) kv_->record_prefix_lookup(*seq);
    if (fresh && seq->num_output_tokens() == 0) seq->num_cached_prompt_tokens = seq->num_computed;
    waiting_.pop_front();
    running_.push_back(seq);
    seq->status = SeqStatus::kRunning;
    out.scheduled.push_back(to_run(seq, n));
    budget -= n;
    prefill_budget -= n;
  }
  for (const ScheduledSeq& s : out.scheduled) out.num_tokens += s.num_tokens;
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
