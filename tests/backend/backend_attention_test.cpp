// Backend conformance, part 2: writing new keys/values into the paged cache and attention over
// it, on ragged batches (decodes beside prefill chunks), GQA ratios 1/2/4, head dims 64/128,
// block sizes 8/16/32, contexts from 1 to thousands of tokens, block tables in shuffled order.
// Unused cache slots and outputs hold NaN, so reading or leaving the wrong element fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "kernels/cpu/cpu_kernels.h"
#include "tests/backend/backend_harness.h"

namespace llm::test {
namespace {

struct SeqSpec {
  int cached;  // tokens already in the cache
  int new_tokens;
};

struct AttentionCase {
  std::string name;
  int kv_heads, group, head_dim, block_size;
  std::vector<SeqSpec> seqs;
  int window = 0;       // AttentionShape::window
  float softcap = 0.f;  // AttentionShape::softcap
};

// A paged K/V cache pair [blocks, kv_heads, block_size, head_dim] on the backend, holding the
// given encoded contents.
struct DeviceCache {
  Buffer k_buf, v_buf;
  Tensor k, v;
};
DeviceCache upload_cache(Backend& be, DType t, const std::vector<uint8_t>& k_bytes,
                         const std::vector<uint8_t>& v_bytes, int blocks, int kv_heads, int bs,
                         int hd) {
  DeviceCache c;
  c.k_buf = be.alloc(k_bytes.size());
  c.v_buf = be.alloc(v_bytes.size());
  c.k = c.k_buf.view(t, {blocks, kv_heads, bs, hd});
  c.v = c.v_buf.view(t, {blocks, kv_heads, bs, hd});
  be.copy_from_host(c.k, k_bytes.data());
  be.copy_from_host(c.v, v_bytes.data());
  return c;
}

class BackendAttention : public ::testing::TestWithParam<BackendCase> {};

TEST_P(BackendAttention, KvWriteAndPagedAttentionMatchFloat64) {
  const std::vector<AttentionCase> cases = {
      {"mha_hd64_bs16", 2, 1, 64, 16, {{0, 1}, {0, 7}, {15, 1}, {33, 20}}},
      {"gqa2_hd128_bs8", 2, 2, 128, 8, {{100, 1}, {0, 40}, {7, 3}}},
      {"gqa4_hd64_bs32_long", 2, 4, 64, 32, {{3000, 1}, {2000, 64}, {0, 1}}},
      {"gqa4_hd128_bs16", 1, 4, 128, 16, {{500, 1}, {499, 1}, {64, 33}, {17, 1}}},
      // Head sizes that are not a multiple of 64 (stories15m: 48) or of 8.
      {"gqa2_hd48_bs16", 2, 2, 48, 16, {{40, 1}, {0, 21}}},
      {"mha_hd12_bs4", 2, 1, 12, 4, {{9, 1}, {0, 6}}},
      // Sliding windows shorter than the contexts (decode partitions wholly before the window,
      // prefill tiles partly inside it), and Gemma 2's soft-capped scores.
      {"window24_gqa2_hd64", 2, 2, 64, 16, {{100, 1}, {0, 40}, {30, 20}, {3000, 1}}, 24},
      {"window1_mha_hd16", 1, 1, 16, 8, {{10, 1}, {0, 9}}, 1},
      {"softcap_gqa4_hd64", 1, 4, 64, 16, {{50, 1}, {0, 30}}, 0, 1.5f},
      {"window_and_softcap", 2, 2, 32, 16, {{700, 1}, {5, 12}}, 16, 2.0f},
      // The tensor-core prefill's other head sizes (Phi-2: 80, Qwen/Gemma-7B-class: 96, 256),
      // GQA 8 (two row tiles per token block), chunks behind long cached prefixes, a window.
      {"gqa2_hd80_bs16", 2, 2, 80, 16, {{0, 37}, {90, 18}, {5, 1}}},
      {"gqa8_hd96_bs32", 1, 8, 96, 32, {{0, 19}, {61, 9}, {200, 1}}},
      {"gqa2_hd256_bs16", 1, 2, 256, 16, {{0, 23}, {40, 17}, {300, 1}}},
      // A group larger than the 8 query heads a decode block takes (two head chunks).
      {"gqa12_hd64_bs16", 1, 12, 64, 16, {{130, 1}, {0, 12}, {7, 1}}},
      {"window40_gqa4_hd128", 2, 4, 128, 8, {{0, 70}, {150, 33}}, 40},
      {"softcap_hd256_bs8", 1, 2, 256, 8, {{9, 30}}, 0, 30.0f},
  };
  const BackendCase& bc = GetParam();
  LLM_SKIP_IF_UNAVAILABLE(bc);
  auto be = bc.make();
  uint64_t seed = 1000;
  for (const AttentionCase& c : cases) {
    SCOPED_TRACE(c.name);
    const int H = c.kv_heads * c.group, KVH = c.kv_heads, hd = c.head_dim, bs = c.block_size;
    const int S = static_cast<int>(c.seqs.size());
    const int64_t width = static_cast<int64_t>(H + 2 * KVH) * hd;
    // Blocks per sequence, then one shuffled pool of physical ids (plus spares never used).
    int max_blocks = 0, total_blocks = 0, T = 0, max_ctx = 0, max_q = 0;
    for (const SeqSpec& s : c.seqs) {
      const int ctx = s.cached + s.new_tokens;
      max_blocks = std::max(max_blocks, (ctx + bs - 1) / bs);
      total_blocks += (ctx + bs - 1) / bs;
      T += s.new_tokens;
      max_ctx = std::max(max_ctx, ctx);
      max_q = std::max(max_q, s.new_tokens);
    }
    const int num_blocks = total_blocks + 3;
    std::vector<int32_t> ids(static_cast<size_t>(num_blocks));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), std::mt19937_64(++seed));
    std::vector<int32_t> tables(static_cast<size_t>(S * max_blocks), -1);
    size_t next = 0;
    for (int s = 0; s < S; ++s) {
      const int ctx = c.seqs[s].cached + c.seqs[s].new_tokens;
      for (int b = 0; b < (ctx + bs - 1) / bs; ++b) tables[s * max_blocks + b] = ids[next++];
    }

    // Every sequence's keys/values for all its positions, rounded to what the cache stores.
    std::vector<std::vector<float>> keys(S), values(S);
    for (int s = 0; s < S; ++s) {
      const size_t n = static_cast<size_t>(c.seqs[s].cached + c.seqs[s].new_tokens) * KVH * hd;
      keys[s] = rounded(bc.kv_dtype, random_floats(n, ++seed));
      values[s] = rounded(bc.kv_dtype, random_floats(n, ++seed));
    }
    const size_t cache_elems = static_cast<size_t>(num_blocks) * KVH * bs * hd;
    auto cache_index = [&](int s, int pos, int h) {
      const int64_t block = tables[s * max_blocks + pos / bs];
      return static_cast<size_t>(((block * KVH + h) * bs + pos % bs) * hd);
    };
    std::vector<float> k_host(cache_elems, NAN), v_host(cache_elems, NAN);
    for (int s = 0; s < S; ++s) {
      for (int pos = 0; pos < c.seqs[s].cached; ++pos) {
        for (int h = 0; h < KVH; ++h) {
          const size_t src = (static_cast<size_t>(pos) * KVH + h) * hd;
          std::copy_n(&keys[s][src], hd, &k_host[cache_index(s, pos, h)]);
          std::copy_n(&values[s][src], hd, &v_host[cache_index(s, pos, h)]);
        }
      }
    }
    // The step's rows: queries, and the new tokens' keys/values in their columns.
    // (Rounded to the activations' type below, keys and values being of the cache's already.)
    std::vector<float> qkv = random_floats(static_cast<size_t>(T) * width, ++seed);
    std::vector<int32_t> query_start = {0}, seq_lens, slots;
    for (int s = 0; s < S; ++s) {
      const SeqSpec& sp = c.seqs[s];
      for (int i = 0; i < sp.new_tokens; ++i) {
        const int pos = sp.cached + i;
        const size_t row = static_cast<size_t>(query_start.back() + i) * width;
        for (int h = 0; h < KVH; ++h) {
          const size_t src = (static_cast<size_t>(pos) * KVH + h) * hd;
          std::copy_n(&keys[s][src], hd, &qkv[row + static_cast<size_t>(H + h) * hd]);
          std::copy_n(&values[s][src], hd, &qkv[row + static_cast<size_t>(H + KVH + h) * hd]);
        }
        slots.push_back(tables[s * max_blocks + pos / bs] * bs + pos % bs);
      }
      query_start.push_back(query_start.back() + sp.new_tokens);
      seq_lens.push_back(sp.cached + sp.new_tokens);
    }

    qkv = rounded(bc.act_dtype, qkv);
    const auto k_bytes = encode(bc.kv_dtype, k_host), v_bytes = encode(bc.kv_dtype, v_host);
    const DeviceCache cache =
        upload_cache(*be, bc.kv_dtype, k_bytes, v_bytes, num_blocks, KVH, bs, hd);
    const Tensor kc = cache.k, vc = cache.v;
    DeviceTensor dqkv = to_backend(*be, qkv, {T, width}, bc.act_dtype);
    DeviceTensor dslots = to_backend_i32(*be, slots, {T});
    DeviceTensor dqs = to_backend_i32(*be, query_start, {S + 1});
    DeviceTensor dlens = to_backend_i32(*be, seq_lens, {S});
    DeviceTensor dtables = to_backend_i32(*be, tables, {S, max_blocks});
    DeviceTensor out = poisoned(*be, {T, static_cast<int64_t>(H) * hd}, bc.act_dtype);
    const AttentionShape shape{H,  KVH, hd, bs, static_cast<float>(1.0 / std::sqrt(hd)),
                               c.window, c.softcap};
    AttentionBatch batch{dqs.tensor, dlens.tensor, dtables.tensor, S, max_ctx, max_q};

    be->kv_write(dqkv.tensor, dslots.tensor, kc, vc, shape);
    be->attention(dqkv.tensor, kc, vc, batch, shape, out.tensor);

    // The cache now holds every position of every sequence; untouched slots are still NaN.
    std::vector<uint8_t> k_after(k_bytes.size());
    be->synchronize();
    be->copy_to_host(k_after.data(), kc);
    const std::vector<float> k_got = decode(bc.kv_dtype, k_after);
    std::vector<bool> live(cache_elems, false);
    for (int s = 0; s < S; ++s) {
      for (int pos = 0; pos < c.seqs[s].cached + c.seqs[s].new_tokens; ++pos) {
        for (int h = 0; h < KVH; ++h) {
          const size_t at = cache_index(s, pos, h), src = (static_cast<size_t>(pos) * KVH + h) * hd;
          for (int d = 0; d < hd; ++d) {
            ASSERT_EQ(k_got[at + d], keys[s][src + d]) << "key seq " << s << " pos " << pos;
            live[at + d] = true;
          }
        }
      }
    }
    for (size_t i = 0; i < cache_elems; ++i) {
      ASSERT_TRUE(live[i] || std::isnan(k_got[i])) << "kv_write wrote outside its slots, at " << i;
    }

    // float64 reference: row i of sequence s sees positions 0..cached+i.
    std::vector<double> want(static_cast<size_t>(T) * H * hd), bound(want.size());
    for (int s = 0; s < S; ++s) {
      for (int i = 0; i < c.seqs[s].new_tokens; ++i) {
        const int row = query_start[s] + i, visible = c.seqs[s].cached + i + 1;
        for (int h = 0; h < H; ++h) {
          const int kvh = h / c.group;
          const float* q_in = &qkv[static_cast<size_t>(row) * width + static_cast<size_t>(h) * hd];
          // The scaled query, as the kernel has it (rounded for tensor cores on prefill rows).
          std::vector<double> q(static_cast<size_t>(hd));
          const bool rounds = c.seqs[s].new_tokens > 1 && bc.attention_rounds_query(hd);
          for (int d = 0; d < hd; ++d) {
            const float scaled = q_in[d] * shape.scale;
            q[d] = rounds ? rounded(bc.kv_dtype, {scaled})[0] : scaled;
          }
          std::vector<double> p(static_cast<size_t>(visible));
          double mx = -INFINITY, denom = 0;
          const int first = c.window > 0 ? std::max(0, visible - c.window) : 0;
          for (int j = 0; j < visible; ++j) {
            double dot = 0;
            for (int d = 0; d < hd; ++d)
              dot += static_cast<double>(q[d]) *
                     keys[s][(static_cast<size_t>(j) * KVH + kvh) * hd + d];
            p[j] = dot;
            if (c.softcap > 0) p[j] = c.softcap * std::tanh(p[j] / c.softcap);
            if (j < first) p[j] = -INFINITY;
            mx = std::max(mx, p[j]);
          }
          for (double& x : p) denom += (x = std::exp(x - mx));
          for (int d = 0; d < hd; ++d) {
            double acc = 0, mag = 0;
            for (int j = 0; j < visible; ++j) {
              const double v = values[s][(static_cast<size_t>(j) * KVH + kvh) * hd + d];
              acc += p[j] * v;
              mag += p[j] * std::abs(v);
            }
            const size_t o = (static_cast<size_t>(row) * H + h) * hd + d;
            want[o] = acc / denom;
            // Error bound: f32 sums (1e-4 of the weighted magnitude); with tensor cores each
            // softmax weight is also rounded to 16 bits (2^-9 relative, so 2^-9 of the same
            // magnitude at most; 2^-8 leaves room for the f32 part).
            bound[o] = (rounds ? 0x1p-8 : 1e-4) * mag / denom;
          }
        }
      }
    }
    expect_close_as(bc.act_dtype, to_host(*be, out.tensor), want, bound, 1.0,
                    "attention " + c.name);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendAttention, ::testing::ValuesIn(backend_cases()),
                         BackendCaseName());

}  // namespace
}  // namespace llm::test

namespace llm::test {
namespace {

class BackendRopeKv : public ::testing::TestWithParam<BackendCase> {};

// rope_kv_write (fused on the CUDA backend) against float64: queries and keys rotated in qkv
// (full and partial rotary), rotated keys and the values in the cache at each token's slot,
// rows without a slot and every other slot untouched (NaN).
TEST_P(BackendRopeKv, RotatesAndStoresKeysAndValues) {
  const BackendCase& bc = GetParam();
  LLM_SKIP_IF_UNAVAILABLE(bc);
  auto be = bc.make();
  const int H = 4, KVH = 2, hd = 16, T = 6, max_pos = 64, bs = 4, blocks = 5;
  const int64_t width = static_cast<int64_t>(H + 2 * KVH) * hd;
  const std::vector<int32_t> pos = {0, 1, 5, 63, 2, 40}, slots = {3, 17, -1, 0, 9, 12};
  for (const int rotary : {hd, hd / 2}) {
    SCOPED_TRACE("rotary " + std::to_string(rotary));
    const int half = rotary / 2;
    const auto qkv = rounded(bc.act_dtype, random_floats(static_cast<size_t>(T * width),
                                                         50u + static_cast<unsigned>(rotary)));
    std::vector<float> cs(static_cast<size_t>(max_pos * half * 2));
    for (int p = 0; p < max_pos; ++p) {
      for (int i = 0; i < half; ++i) {
        const double a = p * std::pow(10000.0, -2.0 * i / rotary);
        cs[static_cast<size_t>((p * half + i) * 2)] = static_cast<float>(std::cos(a));
        cs[static_cast<size_t>((p * half + i) * 2 + 1)] = static_cast<float>(std::sin(a));
      }
    }
    std::vector<double> want(qkv.begin(), qkv.end()), scale(want.size(), 1.0);
    for (int t = 0; t < T; ++t) {
      for (int h = 0; h < H + KVH; ++h) {
        for (int i = 0; i < half; ++i) {
          const size_t b = static_cast<size_t>(t * width + h * hd);
          const double c = cs[static_cast<size_t>((pos[t] * half + i) * 2)];
          const double s = cs[static_cast<size_t>((pos[t] * half + i) * 2 + 1)];
          const double x1 = qkv[b + i], x2 = qkv[b + i + half];
          want[b + i] = x1 * c - x2 * s;
          want[b + i + half] = x2 * c + x1 * s;
        }
      }
    }
    const size_t cache_elems = static_cast<size_t>(blocks) * KVH * bs * hd;
    const std::vector<float> nans(cache_elems, NAN);
    const auto k_bytes = encode(bc.kv_dtype, nans);
    const DeviceCache cache = upload_cache(*be, bc.kv_dtype, k_bytes, k_bytes, blocks, KVH, bs, hd);
    const Tensor kc = cache.k, vc = cache.v;
    DeviceTensor d = to_backend(*be, qkv, {T, width}, bc.act_dtype);
    DeviceTensor dp = to_backend_i32(*be, pos, {T}), dslots = to_backend_i32(*be, slots, {T});
    DeviceTensor dcs = to_backend(*be, cs, {max_pos, half, 2});
    const AttentionShape shape{H, KVH, hd, bs, 0.25f};
    be->rope_kv_write(d.tensor, dp.tensor, dcs.tensor, dslots.tensor, kc, vc, shape);
    expect_close_as(bc.act_dtype, to_host(*be, d.tensor), want, scale, 1e-6, "rotated qkv");

    std::vector<uint8_t> kb(k_bytes.size()), vb(k_bytes.size());
    be->synchronize();
    be->copy_to_host(kb.data(), kc);
    be->copy_to_host(vb.data(), vc);
    const std::vector<float> kgot = decode(bc.kv_dtype, kb), vgot = decode(bc.kv_dtype, vb);
    // A 16-bit cache holds the f32 result rounded once: within half a unit of its last place.
    const double tol = bc.kv_dtype == DType::kF32 ? 1e-6 : 0x1p-8;
    std::vector<bool> live(cache_elems, false);
    for (int t = 0; t < T; ++t) {
      if (slots[t] < 0) continue;
      for (int h = 0; h < KVH; ++h) {
        const size_t at =
            static_cast<size_t>(((slots[t] / bs * KVH + h) * bs + slots[t] % bs) * hd);
        for (int dd = 0; dd < hd; ++dd) {
          const double k = want[static_cast<size_t>(t * width + (H + h) * hd + dd)];
          const double v = want[static_cast<size_t>(t * width + (H + KVH + h) * hd + dd)];
          EXPECT_NEAR(kgot[at + dd], k, tol * std::abs(k) + 1e-6) << "key t" << t << " d" << dd;
          EXPECT_NEAR(vgot[at + dd], v, tol * std::abs(v) + 1e-6) << "value t" << t << " d" << dd;
          live[at + dd] = true;
        }
      }
    }
    for (size_t i = 0; i < cache_elems; ++i) {
      if (!live[i]) {
        ASSERT_TRUE(std::isnan(kgot[i]) && std::isnan(vgot[i])) << "wrote outside its slots: " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendRopeKv, ::testing::ValuesIn(backend_cases()),
                         BackendCaseName());

}  // namespace
}  // namespace llm::test
