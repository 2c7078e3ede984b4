// Paged attention for decode (flash-decoding): each sequence with a single new token attends to
// its whole context. Grid (partition, kv head x head chunk, sequence), 128 threads. A block takes
// the query heads of one GQA group (up to 8 of them) over one partition of the context, so each
// key and value row is read from the cache once for the whole group instead of once per query
// head. Rows are read with the widest aligned vector loads the row size allows (16 bytes for
// head sizes that are multiples of 8 in 16-bit caches): a group of L lanes covers one row, a warp
// 32 / L rows, so a warp's loads are contiguous. The block table is read once per key into
// shared memory before either pass. Scores go to shared memory, each head's softmax is a warp's
// job, and the value pass accumulates every head of the block at once, then reduces across key
// groups (shuffles) and warps (shared memory). With one partition the result goes straight to
// `out`; with several (long contexts) each block stores partial outputs normalised by their own
// sums, with their maxima and sums, and a second kernel rescales and combines them (vLLM's paged
// attention v2). Partitions cover the batch's longest context, not the model's.
#include "kernels/cuda/attention.h"
#include "kernels/cuda/launch.h"
// (launch.h and attention.h bring cuda_api.h first.)
#include <cstring>

#include "kernels/cuda/common.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

namespace {

constexpr int kDecodeThreads = 128;
constexpr int kWarps = kDecodeThreads / 32;
constexpr int kMaxHeads = 8;  // query heads per block (a GQA group, or a chunk of a larger one)
constexpr int kMaxElems = 8;  // row elements per lane per key (<= 32 bytes of a <= 1 KiB row)
constexpr std::size_t kSharedLimit = 48 * 1024;

// Workspace carving, in floats: [S, H, NP, hd] partial outputs, then [S, H, NP] maxima and sums.
struct SplitScratch {
  float* out;
  float* max;
  float* sum;
};

__device__ inline SplitScratch carve(float* ws, int num_seqs, int num_heads, int num_parts,
                                     int head_dim) {
  const long long n = static_cast<long long>(num_seqs) * num_heads * num_parts;
  return {ws, ws + n * head_dim, ws + n * head_dim + n};
}

template <int kBytes>
struct VectorOf;
template <>
struct VectorOf<16> {
  using type = uint4;
};
template <>
struct VectorOf<8> {
  using type = uint2;
};
template <>
struct VectorOf<4> {
  using type = unsigned;
};

// One aligned kBytes load of row elements, widened to f32.
template <typename T, int kBytes>
__device__ inline void load_chunk(const T* src, float* out) {
  constexpr int kE = kBytes / static_cast<int>(sizeof(T));
  const typename VectorOf<kBytes>::type raw =
      *reinterpret_cast<const typename VectorOf<kBytes>::type*>(src);
  T v[kE];
  std::memcpy(static_cast<void*>(v), &raw, kBytes);  // (T is trivially copyable)
  for (int e = 0; e < kE; ++e) out[e] = to_f32(v[e]);
}

// Shared memory of one block: q [heads, hd], scores [heads, partition], per-warp partial outputs
// [kWarps, heads, hd], max and sum [heads] (floats), then row offsets [partition] (64-bit).
std::size_t decode_shared_bytes(int heads, int head_dim, int partition_tokens) {
  const std::size_t floats = static_cast<std::size_t>(heads) * head_dim +
                             static_cast<std::size_t>(heads) * partition_tokens +
                             static_cast<std::size_t>(kWarps) * heads * head_dim + 2 * heads;
  return (floats + 1) / 2 * 8 + static_cast<std::size_t>(partition_tokens) * 8;
}

}  // namespace

// kBytes: bytes per vector load (16, 8 or 4; divides a row's bytes).
template <typename T, int kBytes>
__global__ void __launch_bounds__(kDecodeThreads)
    decode_attention_kernel(PagedAttentionParams p, int partition_tokens, int num_parts,
                            int heads_per_block, float* workspace) {
  constexpr int kE = kBytes / static_cast<int>(sizeof(T));  // elements per load
  constexpr int kLoads = kMaxElems / kE;                    // loads per lane per row, at most
  const int part = blockIdx.x, s = blockIdx.z;
  const int row = p.query_start[s];
  if (p.query_start[s + 1] - row != 1) return;  // prefill rows: prefill_attention's job
  const int ctx = p.seq_lens[s];
  const int begin = part * partition_tokens;
  if (begin >= ctx) return;  // the combine kernel reads only partitions that hold keys
  const int n = min(partition_tokens, ctx - begin);
  const int hd = p.head_dim, group = p.num_heads / p.num_kv_heads;
  const int chunks_per_group = (group + heads_per_block - 1) / heads_per_block;
  const int kvh = blockIdx.y / chunks_per_group;
  const int h0 = kvh * group + (blockIdx.y % chunks_per_group) * heads_per_block;
  const int heads = min(heads_per_block, kvh * group + group - h0);
  // L lanes per row (a power of two), each taking loads c = lane % L + L * i of the row's C.
  const int C = hd / kE;
  int L = 1;
  while (L < C && L < 32) L <<= 1;
  const int per_lane = (C + L - 1) / L, rows_per_warp = 32 / L;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int kg = lane / L, cl = lane % L;

  LLM_DYNAMIC_SHARED(float, smem);
  float* const q = smem;                                    // [heads, hd]
  float* const score = q + heads * hd;                      // [heads, partition_tokens]
  float* const partial = score + heads * partition_tokens;  // [kWarps, heads, hd]
  float* const stat_max = partial + kWarps * heads * hd;    // [heads]
  float* const stat_sum = stat_max + heads;                 // [heads]
  const int floats = heads * hd + heads * partition_tokens + kWarps * heads * hd + 2 * heads;
  long long* const row_at = reinterpret_cast<long long*>(smem + (floats + 1) / 2 * 2);

  const long long qrow = static_cast<long long>(row) * p.ld + static_cast<long long>(h0) * hd;
  for (int i = threadIdx.x; i < heads * hd; i += kDecodeThreads) {
    q[i] = load_as(p.qkv, qrow + i, p.act_type) * p.scale;
  }
  const int* const table = p.block_tables + static_cast<long long>(s) * p.max_blocks_per_seq;
  for (int j = threadIdx.x; j < n; j += kDecodeThreads) {
    const int pos = begin + j;
    const long long block = table[pos / p.block_size];
    row_at[j] = ((block * p.num_kv_heads + kvh) * p.block_size + pos % p.block_size) * hd;
  }

  // The query sits at ctx - 1; with a window it sees keys from ctx - window on. A partition
  // wholly before that holds no visible key: it reports weight 0 to the combine.
  const int first = p.window > 0 ? max(0, ctx - p.window) : 0;
  if (begin + n <= first) {
    const SplitScratch ws = carve(workspace, p.num_seqs, p.num_heads, num_parts, hd);
    for (int i = threadIdx.x; i < heads * hd; i += kDecodeThreads) {
      const long long at =
          (static_cast<long long>(s) * p.num_heads + h0 + i / hd) * num_parts + part;
      ws.out[at * hd + i % hd] = 0.0f;
      if (i % hd == 0) {
        ws.max[at] = -INFINITY;
        ws.sum[at] = 0.0f;
      }
    }
    return;
  }
  __syncthreads();  // q and row offsets

  const T* const kc = static_cast<const T*>(p.k_cache);
  const T* const vc = static_cast<const T*>(p.v_cache);
  // Scores: the L lanes of a row each dot their part of the key with every head's query, then
  // sum across the L lanes. Every lane runs every iteration (the shuffles need the whole warp).
  for (int j0 = warp * rows_per_warp; j0 < n; j0 += kWarps * rows_per_warp) {
    const int j = j0 + kg;
    float k[kMaxElems];
    LLM_UNROLL
    for (int i = 0; i < kLoads; ++i) {
      const int c = cl + L * i;
      if (j < n && i < per_lane && c < C) {
        load_chunk<T, kBytes>(kc + row_at[j] + c * kE, k + i * kE);
      } else {
        for (int e = 0; e < kE; ++e) k[i * kE + e] = 0.0f;
      }
    }
    LLM_UNROLL
    for (int g = 0; g < kMaxHeads; ++g) {
      if (g >= heads) break;  // uniform across the block
      float dot = 0.0f;
      LLM_UNROLL
      for (int i = 0; i < kLoads; ++i) {
        const int c = cl + L * i;
        if (i >= per_lane || c >= C) break;
        LLM_UNROLL
        for (int e = 0; e < kE; ++e) dot += q[g * hd + c * kE + e] * k[i * kE + e];
      }
      for (int o = L / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(kFullMask, dot, o, L);
      if (j < n && cl == 0) {
        if (p.softcap > 0.0f) dot = p.softcap * tanhf(dot / p.softcap);
        score[g * partition_tokens + j] = begin + j < first ? -INFINITY : dot;
      }
    }
  }
  __syncthreads();

  // Softmax of each head's scores: a warp per head.
  for (int g = warp; g < heads; g += kWarps) {
    float m = -INFINITY;
    for (int j = lane; j < n; j += 32) m = fmaxf(m, score[g * partition_tokens + j]);
    m = warp_max(m);  // finite: the partition holds a visible key
    float sum = 0.0f;
    for (int j = lane; j < n; j += 32) {
      const float e = __expf(score[g * partition_tokens + j] - m);
      score[g * partition_tokens + j] = e;
      sum += e;
    }
    sum = warp_sum(sum);
    if (lane == 0) {
      stat_max[g] = m;
      stat_sum[g] = sum;
    }
  }
  __syncthreads();

  // Values: rows as in the score pass; every head's weighted sum at once.
  float acc[kMaxHeads][kMaxElems];
  LLM_UNROLL
  for (int g = 0; g < kMaxHeads; ++g) {
    LLM_UNROLL
    for (int e = 0; e < kMaxElems; ++e) acc[g][e] = 0.0f;
  }
  for (int j0 = warp * rows_per_warp; j0 < n; j0 += kWarps * rows_per_warp) {
    const int j = j0 + kg;
    if (j >= n) continue;
    float v[kMaxElems];
    LLM_UNROLL
    for (int i = 0; i < kLoads; ++i) {
      const int c = cl + L * i;
      if (i < per_lane && c < C) {
        load_chunk<T, kBytes>(vc + row_at[j] + c * kE, v + i * kE);
      } else {
        LLM_UNROLL
        for (int e = 0; e < kE; ++e) v[i * kE + e] = 0.0f;
      }
    }
    LLM_UNROLL
    for (int g = 0; g < kMaxHeads; ++g) {
      if (g >= heads) break;
      const float w = score[g * partition_tokens + j];
      LLM_UNROLL
      for (int i = 0; i < kLoads; ++i) {
        if (i >= per_lane || cl + L * i >= C) break;
        LLM_UNROLL
        for (int e = 0; e < kE; ++e) acc[g][i * kE + e] += w * v[i * kE + e];
      }
    }
  }
  // Sum the warp's row groups (lanes L apart), then the warps through shared memory.
  LLM_UNROLL
  for (int g = 0; g < kMaxHeads; ++g) {
    if (g >= heads) break;
    LLM_UNROLL
    for (int x = 0; x < kMaxElems; ++x) {
      for (int o = L; o < 32; o <<= 1) acc[g][x] += __shfl_xor_sync(kFullMask, acc[g][x], o);
    }
  }
  if (kg == 0) {
    LLM_UNROLL
    for (int g = 0; g < kMaxHeads; ++g) {
      if (g >= heads) break;
      LLM_UNROLL
      for (int i = 0; i < kLoads; ++i) {
        const int c = cl + L * i;
        if (i >= per_lane || c >= C) break;
        LLM_UNROLL
        for (int e = 0; e < kE; ++e)
          partial[(warp * heads + g) * hd + c * kE + e] = acc[g][i * kE + e];
      }
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < heads * hd; i += kDecodeThreads) {
    const int g = i / hd, d = i % hd, h = h0 + g;
    float v = 0.0f;
    for (int w = 0; w < kWarps; ++w) v += partial[(w * heads + g) * hd + d];
    v /= stat_sum[g];
    if (num_parts == 1) {
      store_as(p.out,
               static_cast<long long>(row) * p.num_heads * hd + static_cast<long long>(h) * hd + d,
               p.act_type, v);
    } else {
      const SplitScratch ws = carve(workspace, p.num_seqs, p.num_heads, num_parts, hd);
      const long long at = (static_cast<long long>(s) * p.num_heads + h) * num_parts + part;
      ws.out[at * hd + d] = v;
      if (d == 0) {
        ws.max[at] = stat_max[g];
        ws.sum[at] = stat_sum[g];
      }
    }
  }
}

// Combines the partitions of one (sequence, head): weights sum_p * exp(max_p - max) over the
// partitions that hold keys. Grid (query head, sequence); a thread per output dimension.
__global__ void decode_combine_kernel(PagedAttentionParams p, int partition_tokens, int num_parts,
                                      const float* workspace) {
  const int h = blockIdx.x, s = blockIdx.y;
  const int row = p.query_start[s];
  if (p.query_start[s + 1] - row != 1) return;
  const int used = (p.seq_lens[s] + partition_tokens - 1) / partition_tokens;
  const int hd = p.head_dim;
  const SplitScratch ws =
      carve(const_cast<float*>(workspace), p.num_seqs, p.num_heads, num_parts, hd);
  const long long base = (static_cast<long long>(s) * p.num_heads + h) * num_parts;
  float m = -INFINITY;
  for (int i = 0; i < used; ++i) m = fmaxf(m, ws.max[base + i]);
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float acc = 0.0f, total = 0.0f;
    for (int i = 0; i < used; ++i) {
      // A partition before the window (max -inf, sum 0) weighs 0; exp(-inf) avoids a NaN.
      const float w = ws.sum[base + i] == 0.0f ? 0.0f : ws.sum[base + i] * __expf(ws.max[base + i] - m);
      acc += w * ws.out[(base + i) * hd + d];
      total += w;
    }
    store_as(p.out,
             static_cast<long long>(row) * p.num_heads * hd + static_cast<long long>(h) * hd + d,
             p.act_type, acc / total);
  }
}

std::size_t decode_attention_workspace_bytes(int num_seqs, int num_heads, int head_dim,
                                             int max_seq_len, int partition_tokens) {
  const int parts = decode_partitions(max_seq_len, partition_tokens);
  if (parts <= 1) return 0;
  return static_cast<std::size_t>(num_seqs) * num_heads * parts * (head_dim + 2) * sizeof(float);
}

namespace {

template <typename T, int kBytes>
void launch_decode(const PagedAttentionParams& p, int partition_tokens, int parts, float* ws,
                   cudaStream_t stream) {
  // As many heads of a group per block as fit the shared memory (all of them, up to 8, at the
  // default partition of 512 tokens and head sizes up to 128).
  const int group = p.num_heads / p.num_kv_heads;
  int heads = group < kMaxHeads ? group : kMaxHeads;
  while (heads > 1 && decode_shared_bytes(heads, p.head_dim, partition_tokens) > kSharedLimit) {
    --heads;
  }
  const std::size_t shared = decode_shared_bytes(heads, p.head_dim, partition_tokens);
  auto* k = &decode_attention_kernel<T, kBytes>;
  if (shared > kSharedLimit) {
    cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
  }
  const int chunks = (group + heads - 1) / heads;
  const dim3 grid(parts, p.num_kv_heads * chunks, p.num_seqs);
  LLM_LAUNCH(k, grid, kDecodeThreads, shared, stream, p, partition_tokens, parts, heads, ws);
}

template <typename T>
void dispatch_vector_width(const PagedAttentionParams& p, int partition_tokens, int parts,
                           float* ws, cudaStream_t stream) {
  const std::size_t row_bytes = static_cast<std::size_t>(p.head_dim) * sizeof(T);
  if (row_bytes % 16 == 0) {
    launch_decode<T, 16>(p, partition_tokens, parts, ws, stream);
  } else if (row_bytes % 8 == 0 || sizeof(T) == 4) {
    // (An f32 row of an even head size is always a multiple of 8 bytes.)
    launch_decode<T, 8>(p, partition_tokens, parts, ws, stream);
  } else if constexpr (sizeof(T) == 2) {
    launch_decode<T, 4>(p, partition_tokens, parts, ws, stream);
  }
}

}  // namespace

void decode_attention(const PagedAttentionParams& p, int partition_tokens, float* workspace,
                      cudaStream_t stream) {
  if (p.num_seqs == 0 || p.max_seq_len == 0) return;
  const int parts = decode_partitions(p.max_seq_len, partition_tokens);
  if (p.cache_type == CUDA_R_16BF) {
    dispatch_vector_width<__nv_bfloat16>(p, partition_tokens, parts, workspace, stream);
  } else if (p.cache_type == CUDA_R_16F) {
    dispatch_vector_width<__half>(p, partition_tokens, parts, workspace, stream);
  } else {
    dispatch_vector_width<float>(p, partition_tokens, parts, workspace, stream);
  }
  if (parts > 1) {
    const int threads = p.head_dim <= 32 ? 32 : (p.head_dim <= 64 ? 64 : 128);
    LLM_LAUNCH(decode_combine_kernel, dim3(p.num_heads, p.num_seqs), threads, 0, stream, p,
               partition_tokens, parts, static_cast<const float*>(workspace));
  }
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
