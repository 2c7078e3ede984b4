// Scheduler + KvCacheManager stepped by a fake model (no weights): the test loop plays the
// model, appending one token to every sequence that reaches the end of its tokens. Each case is
// a table of what every step must schedule.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
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
  Expected step() {
    const SchedulerOutput out = sched_.schedule();
    Expected got;
    for (const ScheduledSeq& s : out.scheduled) got.scheduled[names_[s.seq]] = s.num_tokens;
    for (Sequence* p : out.preempted) got.preempted.push_back(names_[p]);
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
  };
  return c;
}

class SchedulerTable : public ::testing::TestWithParam<size_t> {};

TEST_P(SchedulerTable, StepsAsSpecified) {
  const Case& c = cases()[GetParam()];
  SCOPED_TRACE(c.title);
  Harness h(c);
  for (size_t i = 0; i < c.steps.size(); ++i) {
    const Expected got = h.step();
    EXPECT_EQ(got.scheduled, c.steps[i].scheduled) << "step " << i << ": got " << describe(got);
    EXPECT_EQ(got.preempted, c.steps[i].preempted) << "step " << i << ": got " << describe(got);
  }
  EXPECT_FALSE(h.scheduler().has_work());
  EXPECT_EQ(h.kv().pool().num_used(), 0) << "every block back in the pool";
}

INSTANTIATE_TEST_SUITE_P(Cases, SchedulerTable, ::testing::Range<size_t>(0, 4));

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
