// Deliberate bugs in the tensor-core prefill kernel must fail in the emulator. This file is
// built once per mutant of kernels/cuda/prefill_attention_mma.cu (LLM_PREFILL_MUTANT, see the
// kernel): 0 is the kernel as shipped and must match float64; 1 (a cp.async wait too few),
// 2 (no barrier before a stage is refilled) and 3 (ldmatrix without .trans for V) must not.
// The kernel source is compiled into this test alone, so the mutant never reaches a library.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cuda/prefill_attention_mma.cu"

namespace {

struct Case {
  const char* name;
  int kv_heads, group, head_dim, block_size, cached, new_tokens;
};

// Runs one sequence's prefill chunk; returns how many output elements miss the float64
// reference by more than the tensor-core bound (NaN counts), or -1 when the launch failed.
int mismatches(const Case& c, unsigned seed) {
  const int H = c.kv_heads * c.group, KVH = c.kv_heads, hd = c.head_dim, bs = c.block_size;
  const int ctx = c.cached + c.new_tokens, T = c.new_tokens, width = (H + 2 * KVH) * hd;
  const int blocks = (ctx + bs - 1) / bs, pool = blocks + 2;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  auto bf16 = [](float x) { return static_cast<float>(__nv_bfloat16(x)); };
  std::vector<int> table(static_cast<size_t>(blocks));
  std::vector<int> ids(static_cast<size_t>(pool));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::copy_n(ids.begin(), blocks, table.begin());
  // Keys and values of every position (rounded to bf16), placed in the paged cache; every
  // other cache slot is NaN.
  std::vector<float> keys(static_cast<size_t>(ctx) * KVH * hd), values(keys.size());
  for (float& x : keys) x = bf16(dist(rng));
  for (float& x : values) x = bf16(dist(rng));
  const size_t cache_elems = static_cast<size_t>(pool) * KVH * bs * hd;
  std::vector<__nv_bfloat16> kc(cache_elems, __nv_bfloat16(NAN)), vc(cache_elems, kc[0]);
  for (int pos = 0; pos < ctx; ++pos) {
    for (int h = 0; h < KVH; ++h) {
      const size_t at = ((static_cast<size_t>(table[pos / bs]) * KVH + h) * bs + pos % bs) * hd;
      for (int d = 0; d < hd; ++d) {
        kc[at + d] = __nv_bfloat16(keys[(static_cast<size_t>(pos) * KVH + h) * hd + d]);
        vc[at + d] = __nv_bfloat16(values[(static_cast<size_t>(pos) * KVH + h) * hd + d]);
      }
    }
  }
  std::vector<float> qkv(static_cast<size_t>(T) * width);
  for (float& x : qkv) x = dist(rng);
  std::vector<float> out(static_cast<size_t>(T) * H * hd, NAN);
  const std::vector<int> query_start = {0, T}, seq_lens = {ctx};

  llm::cuda::PagedAttentionParams p;
  p.qkv = qkv.data();
  p.ld = width;
  p.k_cache = kc.data();
  p.v_cache = vc.data();
  p.cache_type = CUDA_R_16BF;
  p.query_start = query_start.data();
  p.seq_lens = seq_lens.data();
  p.block_tables = table.data();
  p.max_blocks_per_seq = blocks;
  p.num_seqs = 1;
  p.max_seq_len = ctx;
  p.max_query_len = T;
  p.num_heads = H;
  p.num_kv_heads = KVH;
  p.head_dim = hd;
  p.block_size = bs;
  p.scale = static_cast<float>(1.0 / std::sqrt(hd));
  p.out = out.data();
  (void)cudaGetLastError();
  EXPECT_TRUE(llm::cuda::prefill_attention_tensor_cores(p, nullptr));
  if (cudaGetLastError() != cudaSuccess) return -1;

  int bad = 0;
  for (int i = 0; i < T; ++i) {
    const int visible = c.cached + i + 1;
    for (int h = 0; h < H; ++h) {
      const int kvh = h / c.group;
      std::vector<double> q(static_cast<size_t>(hd)), w(static_cast<size_t>(visible));
      for (int d = 0; d < hd; ++d)
        q[d] = bf16(qkv[static_cast<size_t>(i) * width + h * hd + d] * p.scale);
      double mx = -INFINITY, denom = 0;
      for (int j = 0; j < visible; ++j) {
        double dot = 0;
        for (int d = 0; d < hd; ++d)
          dot += q[d] * keys[(static_cast<size_t>(j) * KVH + kvh) * hd + d];
        w[j] = dot;
        mx = std::max(mx, dot);
      }
      for (double& x : w) denom += (x = std::exp(x - mx));
      for (int d = 0; d < hd; ++d) {
        double acc = 0, mag = 0;
        for (int j = 0; j < visible; ++j) {
          const double v = values[(static_cast<size_t>(j) * KVH + kvh) * hd + d];
          acc += w[j] * v;
          mag += w[j] * std::abs(v);
        }
        const double got = out[(static_cast<size_t>(i) * H + h) * hd + d];
        if (!(std::abs(got - acc / denom) <= 0x1p-8 * mag / denom + 1e-6)) ++bad;
      }
    }
  }
  return bad;
}

const Case kCases[] = {
    // Several key tiles (so stages are refilled) and two row tiles, GQA, a cached prefix.
    {"gqa2_hd64", 1, 2, 64, 16, 150, 40},
    {"gqa4_hd128", 1, 4, 128, 8, 70, 20},
};

TEST(PrefillMutation, TheEmulatorSeparatesTheKernelFromItsMutant) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const std::uint64_t conflicts_before = llm::simt::shared_bank_conflicts();
    testing::internal::CaptureStderr();
    const int bad = mismatches(c, 17);
    const std::string log = testing::internal::GetCapturedStderr();
    if (llm::cuda::kMutant == 0) {
      EXPECT_EQ(bad, 0) << log;
      // The padded shared layout: no ldmatrix phase hits a bank group twice.
      EXPECT_EQ(llm::simt::shared_bank_conflicts() - conflicts_before, 0u);
    } else {
      // Wrong values or a failed launch; either way not the kernel's correct output.
      std::printf("mutant %d, %s: %d mismatched elements (-1: launch failed)\n", llm::cuda::kMutant,
                  c.name, bad);
      EXPECT_NE(bad, 0) << "mutant " << llm::cuda::kMutant << " passed the float64 check";
    }
  }
}

}  // namespace
