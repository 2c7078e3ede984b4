// Scheduler + KvCacheManager stepped by a fake model (no weights): the test loop plays the
// model, appending one token to every sequence that reaches the end of its tokens. Each case is
// a table of what every step must schedule.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>

namespace llm {
namespace {

struct SeqSpec {
  std::string name;
  int prompt_len;
  int max_tokens;
};

struct Expected {
  std::map<std::string, int> scheduled;  // name -> tokens this step
  std::vector<std::string> preempted;
};

// What a step did against the budgets, checked on every step of every case.
struct StepFacts {
  int tokens = 0;                            // all scheduled tokens
  int prompt_tokens = 0;                     // tokens of sequences with more than one token left
  std::vector<std::string> decodes_skipped;  // running with one token left, not scheduled
};

struct Case {
  std::string title;
  int num_blocks;
  int block_size;
  SchedulerConfig config;
  std::vector<SeqSpec> seqs;
  std::vector<Expected> steps;
};

class Harness {
 public:
  Harness(const Case& c) : kv_(c.num_blocks, c.block_size, true), sched_(c.config, kv_) {
    int32_t token = 300;
    for (const SeqSpec& s : c.seqs) {
      auto seq = std::make_unique<Sequence>();
      for (int i = 0; i < s.prompt_len; ++i) seq->tokens.push_back(token++);
      seq->num_prompt_tokens = s.prompt_len;
      names_[seq.get()] = s.name;
      max_tokens_[seq.get()] = s.max_tokens;
      sched_.add(seq.get());
      seqs_.push_back(std::move(seq));
    }
  }

  // One step: schedule, "run" and append a token where logits were wanted; finish at max_tokens.
  Expected step(StepFacts* facts = nullptr) {
    std::vector<Sequence*> decoding;
    for (Sequence* s : sched_.running()) {
      if (s->num_uncomputed() == 1) decoding.push_back(s);
    }
    const SchedulerOutput out = sched_.schedule();
    Expected got;
    for (const ScheduledSeq& s : out.scheduled) got.scheduled[names_[s.seq]] = s.num_tokens;
    for (Sequence* p : out.preempted) got.preempted.push_back(names_[p]);
    if (facts) {
      for (const ScheduledSeq& s : out.scheduled) {
        facts->tokens += s.num_tokens;
        if (s.seq->num_uncomputed() > 1) facts->prompt_tokens += s.num_tokens;
      }
      for (Sequence* d : decoding) {
        if (!got.scheduled.count(names_[d])) facts->decodes_skipped.push_back(names_[d]);
      }
    }
    sched_.complete_step(out);
    for (const ScheduledSeq& s : out.scheduled) {
      if (!s.wants_logits) continue;
      s.seq->tokens.push_back(7);
      if (s.seq->num_output_tokens() >= max_tokens_[s.seq]) sched_.remove(s.seq);
    }
    return got;
  }
  const Scheduler& scheduler() const { return sched_; }
  const KvCacheManager& kv() const { return kv_; }

 private:
  KvCacheManager kv_;
  Scheduler sched_;
  std::vector<std::unique_ptr<Sequence>> seqs_;
  std::map<Sequence*, std::string> names_;
  std::map<Sequence*, int> max_tokens_;
};

std::string describe(const Expected& e) {
  std::string s = "{";
  for (const auto& [n, k] : e.scheduled) s += n + ":" + std::to_string(k) + " ";
  s += "} preempted {";
  for (const auto& n : e.preempted) s += n + " ";
  return s + "}";
}

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"decodes first, then a chunk of the next prompt within the token budget",
       64,
       4,
       {8, 8},
       {{"A", 6, 3}, {"B", 10, 2}},
       {{{{"A", 6}, {"B", 2}}, {}},
        {{{"A", 1}, {"B", 7}}, {}},
        {{{"A", 1}, {"B", 1}}, {}},
        {{{"B", 1}}, {}},
        {{}, {}}}},
      {"max_num_seqs keeps the third request waiting until one finishes",
       64,
       4,
       {2, 64},
       {{"A", 3, 1}, {"B", 3, 2}, {"C", 3, 1}},
       {{{{"A", 3}, {"B", 3}}, {}}, {{{"B", 1}, {"C", 3}}, {}}, {{}, {}}}},
      {"a long prompt is chunked over steps, never over the budget",
       64,
       4,
       {4, 5},
       {{"A", 12, 1}},
       {{{{"A", 5}}, {}}, {{{"A", 5}}, {}}, {{{"A", 2}}, {}}, {{}, {}}}},
      {"when blocks run out the most recently admitted sequence is preempted and recomputed",
       4,
       4,
       {4, 64},
       // A and B fill all 4 blocks with 8 tokens each. A's 9th token needs a third block: B
       // (admitted last) is preempted. When A is done, B comes back: its first block is still
       // in the prefix cache, its second was evicted for A, so it recomputes 5 of its 9 tokens.
       {{"A", 7, 3}, {"B", 7, 3}},
       {{{{"A", 7}, {"B", 7}}, {}},
        {{{"A", 1}, {"B", 1}}, {}},
        {{{"A", 1}}, {"B"}},
        {{{"B", 5}}, {}},
        {{}, {}}}},
      {"no prompt budget (0): a wave of prompts is prefilled in one step, every first token "
       "waits for all of it",
       64,
       4,
       {8, 64, 0},
       {{"A", 8, 3}, {"B", 8, 3}, {"C", 8, 3}, {"D", 4, 2}},
       {{{{"A", 8}, {"B", 8}, {"C", 8}, {"D", 4}}, {}},
        {{{"A", 1}, {"B", 1}, {"C", 1}, {"D", 1}}, {}},
        {{{"A", 1}, {"B", 1}, {"C", 1}}, {}},
        {{}, {}}}},
      {"a prompt budget prefills the same wave a prompt per step: A's first token comes after "
       "8 prompt tokens, not 28, and the first ones decode while the rest are prefilled",
       64,
       4,
       {8, 64, 8},
       {{"A", 8, 3}, {"B", 8, 3}, {"C", 8, 3}, {"D", 4, 2}},
       {{{{"A", 8}}, {}},
        {{{"A", 1}, {"B", 8}}, {}},
        {{{"A", 1}, {"B", 1}, {"C", 8}}, {}},
        {{{"B", 1}, {"C", 1}, {"D", 4}}, {}},
        {{{"C", 1}, {"D", 1}}, {}},
        {{}, {}}}},
      {"a long prompt is chunked by the prompt budget and a decoding stream runs every step "
       "beside it; the budget's remainder goes to the next prompt",
       64,
       4,
       {8, 64, 4},
       {{"A", 2, 6}, {"B", 18, 1}},
       {{{{"A", 2}, {"B", 2}}, {}},
        {{{"A", 1}, {"B", 4}}, {}},
        {{{"A", 1}, {"B", 4}}, {}},
        {{{"A", 1}, {"B", 4}}, {}},
        {{{"A", 1}, {"B", 4}}, {}},
        {{{"A", 1}}, {}},
        {{}, {}}}},
      {"no starvation: an old long prompt keeps the whole prompt budget every step until its "
       "first token; short prompts behind it wait their turn (FCFS) and then share a step",
       64,
       4,
       {8, 64, 4},
       {{"L", 12, 2}, {"S", 2, 1}, {"T", 2, 1}},
       {{{{"L", 4}}, {}},
        {{{"L", 4}}, {}},
        {{{"L", 4}}, {}},
        {{{"L", 1}, {"S", 2}, {"T", 2}}, {}},
        {{}, {}}}},
      {"the step's token budget binds before the prompt budget: decodes are counted first",
       64,
       4,
       {8, 4, 8},
       {{"A", 1, 4}, {"B", 1, 4}, {"C", 1, 4}, {"D", 6, 1}},
       {{{{"A", 1}, {"B", 1}, {"C", 1}, {"D", 1}}, {}},
        {{{"A", 1}, {"B", 1}, {"C", 1}, {"D", 1}}, {}},
        {{{"A", 1}, {"B", 1}, {"C", 1}, {"D", 1}}, {}},
        {{{"A", 1}, {"B", 1}, {"C", 1}, {"D", 1}}, {}},
        {{{"D", 2}}, {}},
        {{}, {}}}},
  };
  return c;
}

class SchedulerTable : public ::testing::TestWithParam<size_t> {};

TEST_P(SchedulerTable, StepsAsSpecified) {
  const Case& c = cases()[GetParam()];
  SCOPED_TRACE(c.title);
  Harness h(c);
  const int prompt_budget = c.config.max_prefill_tokens_per_step > 0
                                ? c.config.max_prefill_tokens_per_step
                                : c.config.max_num_batched_tokens;
  for (size_t i = 0; i < c.steps.size(); ++i) {
    StepFacts facts;
    const Expected got = h.step(&facts);
    EXPECT_EQ(got.scheduled, c.steps[i].scheduled) << "step " << i << ": got " << describe(got);
    EXPECT_EQ(got.preempted, c.steps[i].preempted) << "step " << i << ": got " << describe(got);
    // max_step_tokens() sizes the model's activations: no step may exceed it.
    EXPECT_LE(facts.tokens, c.config.max_step_tokens()) << "step " << i;
    EXPECT_LE(facts.prompt_tokens, prompt_budget) << "step " << i;
    if (got.preempted.empty()) {
      EXPECT_TRUE(facts.decodes_skipped.empty()) << "step " << i << ": a decode was skipped";
    }
  }
  EXPECT_FALSE(h.scheduler().has_work());
  EXPECT_EQ(h.kv().pool().num_used(), 0) << "every block back in the pool";
}

INSTANTIATE_TEST_SUITE_P(Cases, SchedulerTable, ::testing::Range<size_t>(0, cases().size()));

// Random loads: prompts of random lengths arriving over time under random budgets, with blocks
// to spare. Every step keeps within both budgets, schedules every decode and every prompt already
// admitted (an old long prompt progresses each step), first tokens come in arrival order (FCFS:
// no prompt overtakes an older one) and every request finishes.
TEST(Scheduler, RandomLoadsKeepTheBudgetsAndTheArrivalOrder) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const SchedulerConfig config{pick(1, 8), pick(8, 64), pick(0, 24)};
    const int prompt_budget = config.max_prefill_tokens_per_step > 0
                                  ? config.max_prefill_tokens_per_step
                                  : config.max_num_batched_tokens;
    KvCacheManager kv(4096, 4, true);
    Scheduler sched(config, kv);
    const int n = pick(1, 24);
    std::vector<std::unique_ptr<Sequence>> seqs;
    std::vector<int> arrival, max_tokens, first_token(static_cast<size_t>(n), -1);
    int32_t token = 300;  // distinct prompts: no prefix-cache hits to reason about
    for (int i = 0; i < n; ++i) {
      auto seq = std::make_unique<Sequence>();
      seq->seq_id = i;
      for (int k = pick(1, 60); k > 0; --k) seq->tokens.push_back(token++);
      seq->num_prompt_tokens = static_cast<int>(seq->tokens.size());
      seqs.push_back(std::move(seq));
      arrival.push_back((i ? arrival.back() : 0) + pick(0, 3));
      max_tokens.push_back(pick(1, 12));
    }
    int next = 0, step = 0;
    for (; (next < n || sched.has_work()) && step < 10000; ++step) {
      while (next < n && arrival[static_cast<size_t>(next)] <= step) sched.add(seqs[next++].get());
      const std::vector<Sequence*> running = sched.running();
      const SchedulerOutput out = sched.schedule();
      ASSERT_TRUE(out.preempted.empty()) << "blocks to spare";
      int tokens = 0, prompt_tokens = 0;
      std::map<Sequence*, int> got;
      for (const ScheduledSeq& s : out.scheduled) {
        got[s.seq] = s.num_tokens;
        tokens += s.num_tokens;
        if (s.seq->num_uncomputed() > 1) prompt_tokens += s.num_tokens;
      }
      EXPECT_LE(tokens, config.max_step_tokens()) << "step " << step;
      EXPECT_LE(prompt_tokens, prompt_budget) << "step " << step;
      for (Sequence* r : running) {
        EXPECT_TRUE(got.count(r)) << "step " << step << ": running sequence " << r->seq_id
                                  << " with " << r->num_uncomputed() << " tokens left skipped";
      }
      sched.complete_step(out);
      for (const ScheduledSeq& s : out.scheduled) {
        if (!s.wants_logits) continue;
        const auto i = static_cast<size_t>(s.seq->seq_id);
        if (first_token[i] < 0) first_token[i] = step;
        s.seq->tokens.push_back(7);
        if (s.seq->num_output_tokens() >= max_tokens[i]) sched.remove(s.seq);
      }
    }
    EXPECT_FALSE(sched.has_work()) << "all finished within " << step << " steps";
    for (size_t i = 1; i < first_token.size(); ++i) {
      EXPECT_LE(first_token[i - 1], first_token[i]) << "request " << i << " overtook " << i - 1;
    }
    EXPECT_EQ(kv.pool().num_used(), 0);
  }
}

TEST(KvCacheManager, ReusesCachedFullBlocksOfAPrefixButAlwaysComputesTheLastToken) {
  KvCacheManager kv(16, 4, true);
  Sequence a;
  a.tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  a.num_prompt_tokens = 9;
  ASSERT_EQ(kv.claim_cached_prefix(a), 0);
  ASSERT_TRUE(kv.allocate(a, 9));
  a.num_computed = 9;
  kv.cache_full_blocks(a);
  EXPECT_EQ(a.block_hashes.size(), 2u);

  Sequence b;  // shares two full blocks
  b.tokens = {1, 2, 3, 4, 5, 6, 7, 8, 42};
  EXPECT_EQ(kv.claim_cached_prefix(b), 8);
  EXPECT_EQ(std::vector<int32_t>(b.block_table.begin(), b.block_table.end()),
            std::vector<int32_t>(a.block_table.begin(), a.block_table.begin() + 2));

  Sequence c;  // exactly two blocks: the last token must still be computed
  c.tokens = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(kv.claim_cached_prefix(c), 4);

  Sequence d;  // differs in the first block: nothing reused
  d.tokens = {9, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(kv.claim_cached_prefix(d), 0);

  for (Sequence* s : {&a, &b, &c, &d}) kv.free(*s);
  EXPECT_EQ(kv.pool().num_used(), 0);
  // Freed cached blocks stay reusable until evicted.
  Sequence e;
  e.tokens = {1, 2, 3, 4, 5, 6, 7, 8, 10};
  EXPECT_EQ(kv.claim_cached_prefix(e), 8);
  kv.free(e);
}

TEST(BlockPool, EvictsLeastRecentlyFreedCachedBlocksFirst) {
  BlockPool pool(3, 2, true);
  std::vector<int32_t> blocks;
  ASSERT_TRUE(pool.allocate(3, blocks));
  EXPECT_FALSE(pool.allocate(1, blocks)) << "nothing free";
  const std::vector<int32_t> t0 = {1, 2}, t1 = {3, 4};
  pool.cache(blocks[0], BlockPool::kRootHash, t0);
  pool.cache(blocks[1], BlockPool::hash_block(BlockPool::kRootHash, t0), t1);
  pool.release(blocks);  // freed in reverse: block 2, then 1, then 0 join the queue
  EXPECT_EQ(pool.num_free(), 3);
  std::vector<int32_t> fresh;
  ASSERT_TRUE(pool.allocate(1, fresh));
  EXPECT_EQ(fresh[0], blocks[2]) << "the uncached tail block goes first";
  ASSERT_TRUE(pool.allocate(1, fresh));
  EXPECT_EQ(fresh[1], blocks[1]);
  EXPECT_EQ(pool.find_cached(BlockPool::hash_block(BlockPool::kRootHash, t0), t1), -1) << "evicted";
  EXPECT_EQ(pool.find_cached(BlockPool::kRootHash, t0), blocks[0]) << "still cached";
  EXPECT_EQ(pool.find_cached(BlockPool::kRootHash, t1), -1) << "same tokens, other parent";
}

TEST(BlockPool, ReleasingTwiceIsAnError) {
  BlockPool pool(2, 4, false);
  std::vector<int32_t> b;
  ASSERT_TRUE(pool.allocate(1, b));
  pool.release(b);
  EXPECT_THROW(pool.release(b), std::exception);
}

}  // namespace
}  // namespace llm
