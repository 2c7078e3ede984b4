// Paged attention for prefill and chunked prefill, FlashAttention style: grid (query tile,
// query head, sequence), 128 threads. A block holds kTileQ query rows of one head and walks the
// visible keys in tiles of kTileK, gathered from the paged cache into shared memory; scores and
// the running (max, sum) of each row's softmax stay in f32 (online softmax), so the context
// length is bounded by nothing but the cache. Each row is owned by 8 consecutive lanes of a
// warp: they reduce the row's max and sum with width-8 shuffles and each keeps kDims output
// dimensions (d = lane8 + 8 * i) in registers.
#include "kernels/cuda/attention.h"
#include "kernels/cuda/launch.h"
// (launch.h and attention.h bring cuda_api.h first.)
#include "kernels/cuda/common.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

namespace {

constexpr int kTileQ = 16;
constexpr int kTileK = 32;
constexpr int kLanesPerRow = 8;
constexpr int kPrefillThreads = kTileQ * kLanesPerRow;  // 128
constexpr int kKeysPerLane = kTileK / kLanesPerRow;     // 4

__device__ inline float row_max(float v) {
  for (int o = kLanesPerRow / 2; o > 0; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o, kLanesPerRow));
  return v;
}
__device__ inline float row_sum(float v) {
  for (int o = kLanesPerRow / 2; o > 0; o >>= 1)
    v += __shfl_xor_sync(kFullMask, v, o, kLanesPerRow);
  return v;
}

std::size_t prefill_shared_bytes(int head_dim) {
  return static_cast<std::size_t>((kTileQ + 2 * kTileK) * head_dim + kTileQ * kTileK) *
         sizeof(float);
}

}  // namespace

// kDims: output dimensions per lane, head_dim <= 8 * kDims.
template <typename T, int kDims>
__global__ void __launch_bounds__(kPrefillThreads)
    prefill_attention_kernel(PagedAttentionParams p) {
  const int tile = blockIdx.x, h = blockIdx.y, s = blockIdx.z;
  const int q0 = p.query_start[s], qlen = p.query_start[s + 1] - q0;
  if (qlen <= 1 || tile * kTileQ >= qlen) return;  // decode rows: decode_attention's job
  const int ctx = p.seq_lens[s], cached = ctx - qlen;
  const int hd = p.head_dim, kvh = h / (p.num_heads / p.num_kv_heads);
  const int r = threadIdx.x / kLanesPerRow, lane = threadIdx.x % kLanesPerRow;
  const int qi = tile * kTileQ + r;  // this thread's query row within the sequence
  const bool row_valid = qi < qlen;
  // Keys visible to the tile's last row bound the walk (causal mask).
  const int last_row = min(qlen, (tile + 1) * kTileQ) - 1;
  const int kmax = cached + last_row + 1;

  // Dynamic shared memory: Q [kTileQ, hd] (pre-scaled), K and V [kTileK, hd], P [kTileQ, kTileK].
  LLM_DYNAMIC_SHARED(float, smem);
  float* qs = smem;
  float* ks = qs + kTileQ * hd;
  float* vs = ks + kTileK * hd;
  float* ps = vs + kTileK * hd;
  for (int i = threadIdx.x; i < kTileQ * hd; i += blockDim.x) {
    const int rr = i / hd, d = i % hd, qrow = tile * kTileQ + rr;
    qs[i] =
        qrow < qlen
            ? load_as(p.qkv,
                      static_cast<long long>(q0 + qrow) * p.ld + static_cast<long long>(h) * hd + d,
                      p.act_type) *
                  p.scale
            : 0.0f;
  }

  const T* kc = static_cast<const T*>(p.k_cache);
  const T* vc = static_cast<const T*>(p.v_cache);
  const int* table = p.block_tables + static_cast<long long>(s) * p.max_blocks_per_seq;
  float o[kDims];
  LLM_UNROLL
  for (int i = 0; i < kDims; ++i) o[i] = 0.0f;
  float m = -INFINITY, l = 0.0f;

  for (int k0 = 0; k0 < kmax; k0 += kTileK) {
    // Gather the key/value tile; positions past kmax read as zeros (their weight is 0, and a
    // NaN from unwritten cache memory would poison 0 * v).
    for (int i = threadIdx.x; i < kTileK * hd; i += blockDim.x) {
      const int c = i / hd, d = i % hd, pos = k0 + c;
      float kv = 0.0f, vv = 0.0f;
      if (pos < kmax) {
        const long long block = table[pos / p.block_size];
        const long long at =
            ((block * p.num_kv_heads + kvh) * p.block_size + pos % p.block_size) * hd + d;
        kv = to_f32(kc[at]);
        vv = to_f32(vc[at]);
      }
      ks[i] = kv;
      vs[i] = vv;
    }
    __syncthreads();

    // Scores of this row against keys lane, lane + 8, ... of the tile, causally masked.
    float sc[kKeysPerLane];
    float tile_max = -INFINITY;
    for (int i = 0; i < kKeysPerLane; ++i) {
      const int c = lane + kLanesPerRow * i, pos = k0 + c;
      float dot = -INFINITY;
      // Causal, and within the window when there is one.
      if (row_valid && pos <= cached + qi && (p.window <= 0 || pos > cached + qi - p.window)) {
        dot = 0.0f;
        for (int d = 0; d < hd; ++d) dot += qs[r * hd + d] * ks[c * hd + d];
        if (p.softcap > 0.0f) dot = p.softcap * tanhf(dot / p.softcap);
      }
      sc[i] = dot;
      tile_max = fmaxf(tile_max, dot);
    }
    tile_max = row_max(tile_max);
    const float m_new = fmaxf(m, tile_max);
    // A row that has seen no visible key yet (only invalid rows) keeps weight 0 and no rescale.
    const bool empty = m_new == -INFINITY;
    const float alpha = empty ? 1.0f : __expf(m - m_new);
    float tile_sum = 0.0f;
    for (int i = 0; i < kKeysPerLane; ++i) {
      const float e = empty ? 0.0f : __expf(sc[i] - m_new);
      ps[r * kTileK + lane + kLanesPerRow * i] = e;
      tile_sum += e;
    }
    l = l * alpha + row_sum(tile_sum);
    m = m_new;
    __syncthreads();  // P complete

    LLM_UNROLL
    for (int i = 0; i < kDims; ++i) {
      const int d = lane + kLanesPerRow * i;
      if (d < hd) {
        float acc = 0.0f;
        for (int c = 0; c < kTileK; ++c) acc += ps[r * kTileK + c] * vs[c * hd + d];
        o[i] = o[i] * alpha + acc;
      }
    }
    __syncthreads();  // K, V and P are overwritten by the next tile
  }

  if (!row_valid) return;
  const long long orow =
      static_cast<long long>(q0 + qi) * p.num_heads * hd + static_cast<long long>(h) * hd;
  const float inv = 1.0f / l;
  LLM_UNROLL
  for (int i = 0; i < kDims; ++i) {
    const int d = lane + kLanesPerRow * i;
    if (d < hd) store_as(p.out, orow + d, p.act_type, o[i] * inv);
  }
}

namespace {

template <typename T, int kDims>
void launch_prefill(const PagedAttentionParams& p, cudaStream_t stream) {
  auto* k = &prefill_attention_kernel<T, kDims>;
  const std::size_t shared = prefill_shared_bytes(p.head_dim);
  // Over 48 KiB of dynamic shared memory (head_dim > 128) must be opted into per kernel.
  if (shared > 48 * 1024) {
    cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
  }
  const dim3 grid((p.max_query_len + kTileQ - 1) / kTileQ, p.num_heads, p.num_seqs);
  LLM_LAUNCH(k, grid, kPrefillThreads, shared, stream, p);
}

template <typename T>
void dispatch_head_dim(const PagedAttentionParams& p, cudaStream_t stream) {
  if (p.head_dim <= 8) {
    launch_prefill<T, 1>(p, stream);
  } else if (p.head_dim <= 16) {
    launch_prefill<T, 2>(p, stream);
  } else if (p.head_dim <= 32) {
    launch_prefill<T, 4>(p, stream);
  } else if (p.head_dim <= 64) {
    launch_prefill<T, 8>(p, stream);
  } else if (p.head_dim <= 128) {
    launch_prefill<T, 16>(p, stream);
  } else {
    launch_prefill<T, 32>(p, stream);
  }
}

}  // namespace

void prefill_attention(const PagedAttentionParams& p, cudaStream_t stream) {
  if (p.num_seqs == 0 || p.max_query_len <= 1) return;
  if (prefill_attention_tensor_cores(p, stream)) return;
  if (p.cache_type == CUDA_R_16BF) {
    dispatch_head_dim<__nv_bfloat16>(p, stream);
  } else if (p.cache_type == CUDA_R_16F) {
    dispatch_head_dim<__half>(p, stream);
  } else {
    dispatch_head_dim<float>(p, stream);
  }
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
