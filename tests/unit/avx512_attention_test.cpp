// The AVX-512 paged attention kernel, emulated by SIMDe (on every x86-64) and as instructions
// where this processor has them: against the portable kernel (to rounding: the two sum in other
// orders), the instructions against their emulation (bit for bit), and batch invariance: a query
// row's output has the same bits whatever else its step holds, however its prompt is chunked
// over steps and however the items are cut between threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/paged_attention_kernels.h"

namespace llm::cpu {
namespace {

struct Seq {
  int cached;  // keys before the first query row
  int new_tokens;
};

struct Case {
  std::string name;
  int kv_heads, group, head_dim, block_size;
  std::vector<Seq> seqs;
  int window = 0;
  float softcap = 0.f;
};

// Item cuts (32 rows), row tiles of 8 and of 9 to 15 split in two, decodes, GQA groups 1 to 8,
// head dims that are multiples of 16 or not (37, 12: ragged vectors), block sizes 4 to 32 (key
// tiles of 16 across blocks), windows and soft-capping.
const Case kCases[] = {
    {"gqa2_hd128_bs16", 2, 2, 128, 16, {{0, 45}, {100, 1}, {30, 7}}},
    {"mha_hd64_bs8", 1, 1, 64, 8, {{0, 40}, {17, 1}, {5, 11}}},
    {"gqa4_hd80_bs32", 1, 4, 80, 32, {{50, 3}, {0, 20}}},
    {"gqa8_hd96_bs16", 1, 8, 96, 16, {{70, 1}, {3, 5}}},
    {"gqa2_hd256_bs16", 1, 2, 256, 16, {{40, 9}}},
    {"mha_hd37_bs4", 2, 1, 37, 4, {{9, 1}, {0, 13}}},
    {"gqa3_hd12_bs4", 1, 3, 12, 4, {{20, 6}, {0, 1}}},
    {"window24_gqa2_hd64", 2, 2, 64, 16, {{100, 1}, {0, 40}, {30, 20}}, 24},
    {"window1_mha_hd16", 1, 1, 16, 8, {{10, 1}, {0, 9}}, 1},
    {"softcap_gqa4_hd64", 1, 4, 64, 16, {{50, 1}, {0, 30}}, 0, 1.5f},
    {"window_and_softcap_hd48", 2, 2, 48, 16, {{300, 1}, {5, 12}}, 16, 2.0f},
};

// Every sequence's keys and values for all its positions in a paged cache (blocks shuffled,
// unused slots NaN), and a query for every position, so any step can be formed over it.
struct World {
  Case c;
  int heads, max_blocks;
  std::vector<int32_t> tables;        // [seqs, max_blocks]
  std::vector<float> k, v;            // [blocks, kv_heads, block_size, head_dim]
  std::vector<std::vector<float>> q;  // per sequence [positions, heads * head_dim]
  int64_t q_width() const { return static_cast<int64_t>(heads) * c.head_dim; }
};

World make_world(const Case& c, uint64_t seed) {
  World w{c, c.kv_heads * c.group, 0, {}, {}, {}, {}};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  const int S = static_cast<int>(c.seqs.size()), bs = c.block_size, hd = c.head_dim;
  int total = 0;
  for (const Seq& s : c.seqs) {
    const int blocks = (s.cached + s.new_tokens + bs - 1) / bs;
    w.max_blocks = std::max(w.max_blocks, blocks);
    total += blocks;
  }
  std::vector<int32_t> ids(static_cast<size_t>(total + 2));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  w.tables.assign(static_cast<size_t>(S * w.max_blocks), -1);
  const size_t elems = ids.size() * c.kv_heads * bs * hd;
  w.k.assign(elems, NAN);
  w.v.assign(elems, NAN);
  size_t next = 0;
  for (int s = 0; s < S; ++s) {
    const int ctx = c.seqs[s].cached + c.seqs[s].new_tokens;
    for (int b = 0; b < (ctx + bs - 1) / bs; ++b) w.tables[s * w.max_blocks + b] = ids[next++];
    for (int pos = 0; pos < ctx; ++pos) {
      for (int h = 0; h < c.kv_heads; ++h) {
        const int64_t block = w.tables[s * w.max_blocks + pos / bs];
        const size_t at = static_cast<size_t>(((block * c.kv_heads + h) * bs + pos % bs) * hd);
        for (int e = 0; e < hd; ++e) w.k[at + e] = d(rng), w.v[at + e] = d(rng);
      }
    }
    w.q.emplace_back(static_cast<size_t>(ctx * w.q_width()));
    for (float& x : w.q.back()) x = d(rng);
  }
  return w;
}

// Query positions [first, first + count) of sequence `seq`: its keys up to first + count.
struct Piece {
  int seq, first, count;
};

// One step over the world: the pieces' query rows in order, and the kernel's output.
struct Step {
  std::vector<float> qkv, out;  // [rows, heads * head_dim] each
  std::vector<int32_t> query_start, seq_lens, tables;
  PagedAttentionArgs args;
};

Step make_step(const World& w, const std::vector<Piece>& pieces) {
  Step st;
  st.query_start = {0};
  int max_q = 0, max_ctx = 0;
  for (const Piece& p : pieces) {
    const float* q = w.q[p.seq].data() + p.first * w.q_width();
    st.qkv.insert(st.qkv.end(), q, q + p.count * w.q_width());
    st.query_start.push_back(st.query_start.back() + p.count);
    st.seq_lens.push_back(p.first + p.count);
    const auto row = w.tables.begin() + p.seq * w.max_blocks;
    st.tables.insert(st.tables.end(), row, row + w.max_blocks);
    max_q = std::max(max_q, p.count);
    max_ctx = std::max(max_ctx, p.first + p.count);
  }
  st.out.assign(st.qkv.size(), NAN);
  const Case& c = w.c;
  st.args = PagedAttentionArgs{st.qkv.data(),
                               w.q_width(),
                               w.k.data(),
                               w.v.data(),
                               st.query_start.data(),
                               st.seq_lens.data(),
                               st.tables.data(),
                               w.max_blocks,
                               static_cast<int>(pieces.size()),
                               max_q,
                               max_ctx,
                               w.heads,
                               c.kv_heads,
                               c.head_dim,
                               c.block_size,
                               1.0f / std::sqrt(static_cast<float>(c.head_dim)),
                               c.window,
                               c.softcap,
                               st.out.data()};
  return st;
}

// Each sequence's new tokens as one piece, as served.
std::vector<Piece> whole_step(const Case& c) {
  std::vector<Piece> pieces;
  for (int s = 0; s < static_cast<int>(c.seqs.size()); ++s)
    pieces.push_back({s, c.seqs[s].cached, c.seqs[s].new_tokens});
  return pieces;
}

struct Kernel {
  std::string name;
  void (*run)(const PagedAttentionArgs&, int64_t, int64_t, float*);
  size_t (*scratch)(const PagedAttentionArgs&);
};

std::vector<Kernel> kernels() {
  std::vector<Kernel> k = {{"simde", detail::avx512_simde::paged_attention,
                            detail::avx512_simde::paged_attention_scratch_floats}};
  if (cpu_features().avx512) {
    k.push_back({"native", detail::avx512_native::paged_attention,
                 detail::avx512_native::paged_attention_scratch_floats});
  }
  return k;
}

// Runs every item of the step, cut at `cuts` as threads would take them, each with its own
// scratch (filled with NaN, which the kernel must not read before writing).
void run(const Kernel& k, Step& st, std::vector<int64_t> cuts = {}) {
  const int64_t items = paged_attention_items(st.args);
  cuts.insert(cuts.begin(), 0);
  cuts.push_back(items);
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    std::vector<float> scratch(k.scratch(st.args), NAN);
    k.run(st.args, std::min(cuts[i], items), std::min(cuts[i + 1], items), scratch.data());
  }
}

// The portable kernel's output for the step (through paged_attention() with the ISA forced).
std::vector<float> portable(Step& st) {
  const CpuIsa before = cpu_isa();
  EXPECT_FALSE(set_cpu_isa("portable").has_value());
  std::fill(st.out.begin(), st.out.end(), NAN);
  std::vector<float> scratch(paged_attention_scratch_floats(st.args));
  paged_attention(st.args, 0, paged_attention_items(st.args), scratch.data());
  EXPECT_FALSE(set_cpu_isa(cpu_isa_name(before)).has_value());
  return st.out;
}

// Outputs are weighted means of values in [-1, 1]: f32 rounding in either order stays far below.
TEST(Avx512Attention, MatchesThePortableKernel) {
  uint64_t seed = 500;
  for (const Case& c : kCases) {
    const World w = make_world(c, ++seed);
    Step st = make_step(w, whole_step(c));
    const std::vector<float> want = portable(st);
    for (const Kernel& k : kernels()) {
      std::fill(st.out.begin(), st.out.end(), NAN);
      run(k, st);
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_FALSE(std::isnan(want[i])) << c.name << " " << i;
        ASSERT_NEAR(st.out[i], want[i], 2e-6f + 2e-5f * std::fabs(want[i]))
            << k.name << " " << c.name << " at " << i;
      }
    }
  }
}

TEST(Avx512Attention, NativeAndEmulatedKernelsAgreeBitForBit) {
  if (!cpu_features().avx512)
    GTEST_SKIP() << "this processor has no AVX-512: only the emulation ran";
  uint64_t seed = 600;
  for (const Case& c : kCases) {
    const World w = make_world(c, ++seed);
    Step a = make_step(w, whole_step(c)), b = make_step(w, whole_step(c));
    run(kernels()[0], a);
    run(kernels()[1], b);
    for (size_t i = 0; i < a.out.size(); ++i)
      ASSERT_EQ(a.out[i], b.out[i]) << c.name << " at " << i;
  }
}

// The rows of (seq, first .. first + count) in a finished step, by position.
std::vector<float> rows_of(const World& w, const Step& st, const std::vector<Piece>& pieces,
                           int seq, int pos) {
  for (size_t p = 0; p < pieces.size(); ++p) {
    const Piece& pc = pieces[p];
    if (pc.seq != seq || pos < pc.first || pos >= pc.first + pc.count) continue;
    const auto at = st.out.begin() + (st.query_start[p] + pos - pc.first) * w.q_width();
    return {at, at + w.q_width()};
  }
  ADD_FAILURE() << "no row for sequence " << seq << " position " << pos;
  return {};
}

// A row's bits are those it gets alone, whatever the batch, the chunking of its prompt over steps
// (a decode is a chunk of one) or the cut of the items between threads.
TEST(Avx512Attention, EachRowGetsTheSameBitsWhateverTheBatch) {
  uint64_t seed = 700;
  for (const Case& c : kCases) {
    const World w = make_world(c, ++seed);
    const std::vector<Piece> batch = whole_step(c);
    for (const Kernel& k : kernels()) {
      Step all = make_step(w, batch);
      run(k, all, {1, 3, 4});
      for (int s = 0; s < static_cast<int>(c.seqs.size()); ++s) {
        const Seq& sq = c.seqs[s];
        const int split = sq.new_tokens / 3;
        // Alone; in two chunks; every fifth row alone as a decode; behind another sequence.
        std::vector<std::vector<Piece>> others = {{{s, sq.cached, sq.new_tokens}},
                                                  {{s, sq.cached + split, sq.new_tokens - split}}};
        if (split > 0) others.push_back({{s, sq.cached, split}});
        const int n = (s + 1) % static_cast<int>(c.seqs.size());
        if (n != s) others.push_back({{n, c.seqs[n].cached, c.seqs[n].new_tokens}, others[0][0]});
        for (int i = 0; i < sq.new_tokens; i += 5) others.push_back({{s, sq.cached + i, 1}});
        for (const std::vector<Piece>& pieces : others) {
          Step st = make_step(w, pieces);
          run(k, st);
          for (const Piece& p : pieces) {
            if (p.seq != s) continue;
            for (int pos = p.first; pos < p.first + p.count; ++pos) {
              const std::vector<float> got = rows_of(w, st, pieces, s, pos);
              const std::vector<float> want = rows_of(w, all, batch, s, pos);
              for (size_t e = 0; e < want.size(); ++e) {
                ASSERT_FALSE(std::isnan(want[e]));
                ASSERT_EQ(got[e], want[e]) << k.name << " " << c.name << " seq " << s
                                           << " position " << pos << " element " << e;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace llm::cpu
