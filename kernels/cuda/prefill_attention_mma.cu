// Prefill attention on tensor cores (sm_80 and later), FlashAttention-2 style, for 16-bit caches
// and head sizes 64, 80, 96, 128 and 256; prefill_attention.cu sends everything else to its
// scalar kernel.
//
// Grid (row tile, kv head, sequence), 4 warps. A block's 64 rows are (token, query head) pairs
// of one GQA group, token-major, so the query heads that share a kv head share every K/V tile
// the block loads. Each warp owns 16 rows and computes, per tile of kTileK keys:
//   S [16, kTileK] = Q K^T      mma.sync m16n8k16, Q and K fragments by ldmatrix from shared
//   online softmax in f32       row max/sum across the 4 lanes of a quad (the C fragment layout)
//   O [16, HD] += P V           P straight from S's registers (the C layout of two n8 tiles is
//                               the A layout of one k16 step), V fragments by ldmatrix.trans
// K/V tiles come from the paged cache with cp.async into two stages, so the next tile is in
// flight while this one is used. Shared rows are padded by 16 bytes: a row stride of an odd
// number of 16-byte chunks puts the 8 rows an ldmatrix phase reads in 8 different bank groups.
// Q is rounded to the cache type after scaling and P before the PV product (f32 accumulation).
#include <type_traits>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/launch.h"
// (launch.h and attention.h bring cuda_api.h first.)
#include "kernels/cuda/common.h"
#include "kernels/cuda/mma.h"

// Test-only mutants: tests/simt/prefill_mutation_test.cpp compiles this file with one of them
// to show that the emulator catches the bug. 1: every cp.async wait leaves one group too many
// in flight; 2: no barrier before a stage is refilled; 3: V fragments loaded without .trans.
#if !defined(LLM_PREFILL_MUTANT)
#define LLM_PREFILL_MUTANT 0
#endif

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

namespace {

constexpr int kMutant = LLM_PREFILL_MUTANT;
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kRows = 16 * kWarps;  // (token, query head) rows per block
constexpr int kPad = 8;             // elements after each shared row (16 bytes)

// Keys per tile: as many as keep the score registers small and the shared memory (Q + two
// stages of K and V) within what every sm_80+ part can give one block (99 KB on sm_86/89).
__host__ __device__ constexpr int key_tile(int hd) {
  return hd <= 64 ? 64 : (hd <= 128 ? 32 : 16);
}

template <int HD>
constexpr std::size_t shared_bytes_for(std::size_t elem) {
  return static_cast<std::size_t>(kRows + 4 * key_tile(HD)) * (HD + kPad) * elem;
}

}  // namespace

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads) prefill_attention_mma_kernel(PagedAttentionParams p) {
  constexpr int kTileK = key_tile(HD);
  constexpr int kStride = HD + kPad;  // elements per shared row
  constexpr int kChunks = HD / 8;     // 16-byte chunks per row
  const int tile = blockIdx.x, kvh = blockIdx.y, s = blockIdx.z;
  const int q0 = p.query_start[s], qlen = p.query_start[s + 1] - q0;
  const int group = p.num_heads / p.num_kv_heads;
  const int rows = qlen * group;
  if (qlen <= 1 || tile * kRows >= rows) return;  // decode rows: decode_attention's job
  const int cached = p.seq_lens[s] - qlen;
  // Keys [kbegin, kend) can be visible to some row of the block (causal mask, window).
  const int first_token = tile * kRows / group;
  const int last_token = (min(rows, (tile + 1) * kRows) - 1) / group;
  const int kend = cached + last_token + 1;
  const int kbegin = p.window > 0 ? max(0, cached + first_token - p.window + 1) : 0;

  // Shared: Q [kRows, kStride], then two stages of K [kTileK, kStride] and V [kTileK, kStride].
  LLM_DYNAMIC_SHARED(T, smem);
  T* const qs = smem;
  T* const stages = qs + kRows * kStride;

  // Q rows: the activations (f32, or already T), scaled, rounded to T; rows past the sequence
  // are zeros.
  for (int i = threadIdx.x; i < kRows * (HD / 2); i += kThreads) {
    const int r = i / (HD / 2), d = 2 * (i % (HD / 2)), pair = tile * kRows + r;
    float x = 0.0f, y = 0.0f;
    if (pair < rows) {
      const int tok = pair / group, h = kvh * group + pair % group;
      const long long q =
          static_cast<long long>(q0 + tok) * p.ld + static_cast<long long>(h) * HD + d;
      x = load_as(p.qkv, q, p.act_type) * p.scale;
      y = load_as(p.qkv, q + 1, p.act_type) * p.scale;
    }
    *reinterpret_cast<std::uint32_t*>(qs + r * kStride + d) = pack2<T>(x, y);
  }

  const T* const kc = static_cast<const T*>(p.k_cache);
  const T* const vc = static_cast<const T*>(p.v_cache);
  const int* const table = p.block_tables + static_cast<long long>(s) * p.max_blocks_per_seq;
  // Issues the copies of keys [k0, k0 + kTileK) into `stage` as one commit group; positions at
  // or past kend are zero-filled (never read from the cache: their block may not exist).
  auto load_tile = [&](int k0, int stage) {
    T* const ks = stages + stage * 2 * kTileK * kStride;
    T* const vs = ks + kTileK * kStride;
    for (int i = threadIdx.x; i < kTileK * kChunks; i += kThreads) {
      const int c = i / kChunks, d = 8 * (i % kChunks), pos = k0 + c;
      const bool valid = pos < kend;
      long long at = 0;
      if (valid) {
        const long long block = table[pos / p.block_size];
        at = ((block * p.num_kv_heads + kvh) * p.block_size + pos % p.block_size) * HD + d;
      }
      cp_async_16(ks + c * kStride + d, kc + at, valid);
      cp_async_16(vs + c * kStride + d, vc + at, valid);
    }
    cp_async_commit();
  };

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, quad_lane = lane % 4;
  // This lane's rows in C fragments: warp row g (i = 0) and g + 8 (i = 1). row_last[i] is the
  // last key position the row sees (its own), -1 for rows past the sequence.
  int row_last[2];
  for (int i = 0; i < 2; ++i) {
    const int pair = tile * kRows + warp * 16 + lane / 4 + 8 * i;
    row_last[i] = pair < rows ? cached + pair / group : -1;
  }
  float o[HD / 8][4];  // O fragments: n-tile j holds dims 8j..8j+7
  for (int j = 0; j < HD / 8; ++j) {
    for (int e = 0; e < 4; ++e) o[j][e] = 0.0f;
  }
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

  // ldmatrix row addresses: lanes 8i..8i+7 address matrix i's rows.
  const int a_row = warp * 16 + lane % 8 + 8 * ((lane / 8) % 2), a_col = 8 * (lane / 16);
  const int k_row = lane % 8 + 8 * (lane / 16), k_col = 8 * ((lane / 8) % 2);
  const int v_row = lane % 8 + 8 * ((lane / 8) % 2), v_col = 8 * (lane / 16);

  const int kstart = kbegin / kTileK * kTileK;
  load_tile(kstart, 0);
  int stage = 0;
  for (int k0 = kstart; k0 < kend; k0 += kTileK, stage ^= 1) {
    if (k0 + kTileK < kend) {
      load_tile(k0 + kTileK, stage ^ 1);
      cp_async_wait<kMutant == 1 ? 2 : 1>();  // this tile's group landed; the next is in flight
    } else {
      cp_async_wait<kMutant == 1 ? 1 : 0>();
    }
    __syncthreads();  // every thread's copies (and Q, the first time) visible to all warps
    const T* const ks = stages + stage * 2 * kTileK * kStride;
    const T* const vs = ks + kTileK * kStride;

    // S = Q K^T for this warp's 16 rows.
    float sc[kTileK / 8][4];
    for (int j = 0; j < kTileK / 8; ++j) {
      for (int e = 0; e < 4; ++e) sc[j][e] = 0.0f;
    }
    for (int kk = 0; kk < HD / 16; ++kk) {
      std::uint32_t a[4];
      ldmatrix_x4<false>(a, qs + a_row * kStride + kk * 16 + a_col);
      for (int j = 0; j < kTileK / 8; j += 2) {
        std::uint32_t b[4];
        ldmatrix_x4<false>(b, ks + (j * 8 + k_row) * kStride + kk * 16 + k_col);
        const std::uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
        mma_m16n8k16<T>(sc[j], a, b0, sc[j]);
        mma_m16n8k16<T>(sc[j + 1], a, b1, sc[j + 1]);
      }
    }

    // Soft cap, masks, and the online softmax; a row's max is shared by its quad.
    float mx[2] = {m[0], m[1]};
    for (int j = 0; j < kTileK / 8; ++j) {
      for (int e = 0; e < 4; ++e) {
        const int i = e / 2, key = k0 + j * 8 + 2 * quad_lane + e % 2;
        float x = sc[j][e];
        if (p.softcap > 0.0f) x = p.softcap * tanhf(x / p.softcap);
        const bool visible = key <= row_last[i] && (p.window <= 0 || key > row_last[i] - p.window);
        sc[j][e] = visible ? x : -INFINITY;
        mx[i] = fmaxf(mx[i], sc[j][e]);
      }
    }
    float alpha[2];
    for (int i = 0; i < 2; ++i) {
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(kFullMask, mx[i], 1));
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(kFullMask, mx[i], 2));
      // A row that has seen no visible key yet keeps weight 0 and needs no rescale.
      alpha[i] = mx[i] == -INFINITY ? 1.0f : __expf(m[i] - mx[i]);
      m[i] = mx[i];
      l[i] *= alpha[i];
    }
    for (int j = 0; j < kTileK / 8; ++j) {
      for (int e = 0; e < 4; ++e) {
        const int i = e / 2;
        sc[j][e] = m[i] == -INFINITY ? 0.0f : __expf(sc[j][e] - m[i]);
        l[i] += sc[j][e];  // this lane's columns only; the quad's sum comes at the end
      }
    }
    for (int j = 0; j < HD / 8; ++j) {
      for (int e = 0; e < 4; ++e) o[j][e] *= alpha[e / 2];
    }

    // O += P V: P's C fragments of n-tiles 2kk, 2kk+1 are the A fragment of k-step kk.
    for (int kk = 0; kk < kTileK / 16; ++kk) {
      const std::uint32_t a[4] = {pack2<T>(sc[2 * kk][0], sc[2 * kk][1]),
                                  pack2<T>(sc[2 * kk][2], sc[2 * kk][3]),
                                  pack2<T>(sc[2 * kk + 1][0], sc[2 * kk + 1][1]),
                                  pack2<T>(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
      for (int j = 0; j < HD / 8; j += 2) {
        std::uint32_t b[4];
        ldmatrix_x4<kMutant != 3>(b, vs + (kk * 16 + v_row) * kStride + j * 8 + v_col);
        const std::uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
        mma_m16n8k16<T>(o[j], a, b0, o[j]);
        mma_m16n8k16<T>(o[j + 1], a, b1, o[j + 1]);
      }
    }
    if constexpr (kMutant != 2) {
      __syncthreads();  // the next iteration's copies overwrite the stage read here
    }
  }

  // Each lane summed its own columns of P: the row sums are the quad's total.
  for (int i = 0; i < 2; ++i) {
    l[i] += __shfl_xor_sync(kFullMask, l[i], 1);
    l[i] += __shfl_xor_sync(kFullMask, l[i], 2);
  }
  // Rows of O in the activations' type (f32, or T); the type is chosen once, and both loops
  // unroll so o stays in registers.
  auto store_rows = [&](auto* out) {
    using Out = std::remove_pointer_t<decltype(out)>;
    LLM_UNROLL
    for (int i = 0; i < 2; ++i) {
      const int pair = tile * kRows + warp * 16 + lane / 4 + 8 * i;
      if (pair < rows) {
        const int tok = pair / group, h = kvh * group + pair % group;
        Out* const orow = out + static_cast<long long>(q0 + tok) * p.num_heads * HD +
                          static_cast<long long>(h) * HD + 2 * quad_lane;
        const float inv = 1.0f / l[i];
        LLM_UNROLL
        for (int j = 0; j < HD / 8; ++j) {
          orow[j * 8] = from_f32<Out>(o[j][2 * i] * inv);
          orow[j * 8 + 1] = from_f32<Out>(o[j][2 * i + 1] * inv);
        }
      }
    }
  };
  if (p.act_type == CUDA_R_32F) {
    store_rows(static_cast<float*>(p.out));
  } else {
    store_rows(static_cast<T*>(p.out));
  }
}

namespace {

template <typename T, int HD>
void launch_mma(const PagedAttentionParams& p, cudaStream_t stream) {
  auto* k = &prefill_attention_mma_kernel<T, HD>;
  constexpr std::size_t shared = shared_bytes_for<HD>(sizeof(T));
  if constexpr (shared > 48 * 1024) {
    cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
  }
  const int group = p.num_heads / p.num_kv_heads;
  const dim3 grid((p.max_query_len * group + kRows - 1) / kRows, p.num_kv_heads, p.num_seqs);
  LLM_LAUNCH(k, grid, kThreads, shared, stream, p);
}

template <typename T>
bool dispatch_mma(const PagedAttentionParams& p, cudaStream_t stream) {
  switch (p.head_dim) {
    case 64:
      launch_mma<T, 64>(p, stream);
      return true;
    case 80:
      launch_mma<T, 80>(p, stream);
      return true;
    case 96:
      launch_mma<T, 96>(p, stream);
      return true;
    case 128:
      launch_mma<T, 128>(p, stream);
      return true;
    case 256:
      launch_mma<T, 256>(p, stream);
      return true;
    default:
      return false;
  }
}

}  // namespace

bool prefill_attention_tensor_cores(const PagedAttentionParams& p, cudaStream_t stream) {
  if (p.cache_type == CUDA_R_16BF) return dispatch_mma<__nv_bfloat16>(p, stream);
  if (p.cache_type == CUDA_R_16F) return dispatch_mma<__half>(p, stream);
  return false;
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
