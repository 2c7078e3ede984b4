// Paged attention for decode: each sequence with a single new token attends to its whole
// context. Grid (partition, query head, sequence), 128 threads. A block scores its partition's
// keys (a thread per key, the query in shared memory), takes the softmax through block-wide
// max and sum reductions, and accumulates values (a thread per output dimension, so value reads
// are coalesced). With one partition the result goes straight to `out`; with several (long
// contexts) each block stores a partial output normalised by its own sum, with its max and sum,
// and a second kernel rescales and combines them (vLLM's paged attention v2).
#include "kernels/cuda/attention.h"
#include "kernels/cuda/launch.h"
// (launch.h and attention.h bring cuda_api.h first.)
#include "kernels/cuda/common.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

namespace {

constexpr int kDecodeThreads = 128;

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

}  // namespace

template <typename T>
__global__ void decode_attention_kernel(PagedAttentionParams p, int partition_tokens, int num_parts,
                                        float* workspace) {
  const int part = blockIdx.x, h = blockIdx.y, s = blockIdx.z;
  const int row = p.query_start[s];
  if (p.query_start[s + 1] - row != 1) return;  // prefill rows: prefill_attention's job
  const int ctx = p.seq_lens[s];
  const int begin = part * partition_tokens;
  if (begin >= ctx) return;  // the combine kernel reads only partitions that hold keys
  const int n = min(partition_tokens, ctx - begin);
  const int hd = p.head_dim, kvh = h / (p.num_heads / p.num_kv_heads);

  // Dynamic shared memory: q [hd], then scores [partition_tokens], then 32 reduction slots.
  LLM_DYNAMIC_SHARED(float, smem);
  float* q = smem;
  float* score = smem + hd;
  float* red = score + partition_tokens;
  const float* qrow = p.qkv + static_cast<long long>(row) * p.ld + static_cast<long long>(h) * hd;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) q[d] = qrow[d] * p.scale;
  __syncthreads();

  const T* kc = static_cast<const T*>(p.k_cache);
  const T* vc = static_cast<const T*>(p.v_cache);
  const int* table = p.block_tables + static_cast<long long>(s) * p.max_blocks_per_seq;
  auto cache_row = [&](int pos) {
    const long long block = table[pos / p.block_size];
    return ((block * p.num_kv_heads + kvh) * p.block_size + pos % p.block_size) * hd;
  };

  // The query sits at ctx - 1; with a window it sees keys from ctx - window on. A partition
  // wholly before that holds no visible key: it reports weight 0 to the combine.
  const int first = p.window > 0 ? max(0, ctx - p.window) : 0;
  if (begin + n <= first) {
    const SplitScratch ws = carve(workspace, p.num_seqs, p.num_heads, num_parts, hd);
    const long long at = (static_cast<long long>(s) * p.num_heads + h) * num_parts + part;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) ws.out[at * hd + d] = 0.0f;
    if (threadIdx.x == 0) {
      ws.max[at] = -INFINITY;
      ws.sum[at] = 0.0f;
    }
    return;
  }
  float local_max = -INFINITY;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    const T* k = kc + cache_row(begin + j);
    float dot = 0.0f;
    for (int d = 0; d < hd; ++d) dot += q[d] * to_f32(k[d]);
    if (p.softcap > 0.0f) dot = p.softcap * tanhf(dot / p.softcap);
    if (begin + j < first) dot = -INFINITY;
    score[j] = dot;
    local_max = fmaxf(local_max, dot);
  }
  const float m = block_reduce<true>(local_max, red);
  float local_sum = 0.0f;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    const float e = __expf(score[j] - m);
    score[j] = e;
    local_sum += e;
  }
  // The reduction's barriers also publish every thread's score[] writes.
  const float sum = block_reduce<false>(local_sum, red);
  const float inv = 1.0f / sum;

  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float acc = 0.0f;
    for (int j = 0; j < n; ++j) acc += score[j] * to_f32(vc[cache_row(begin + j) + d]);
    if (num_parts == 1) {
      p.out[static_cast<long long>(row) * p.num_heads * hd + static_cast<long long>(h) * hd + d] =
          acc * inv;
    } else {
      const SplitScratch ws = carve(workspace, p.num_seqs, p.num_heads, num_parts, hd);
      const long long at = (static_cast<long long>(s) * p.num_heads + h) * num_parts + part;
      ws.out[at * hd + d] = acc * inv;
      if (d == 0) {
        ws.max[at] = m;
        ws.sum[at] = sum;
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
    p.out[static_cast<long long>(row) * p.num_heads * hd + static_cast<long long>(h) * hd + d] =
        acc / total;
  }
}

std::size_t decode_attention_workspace_bytes(int num_seqs, int num_heads, int head_dim,
                                             int max_seq_len, int partition_tokens) {
  const int parts = decode_partitions(max_seq_len, partition_tokens);
  if (parts <= 1) return 0;
  return static_cast<std::size_t>(num_seqs) * num_heads * parts * (head_dim + 2) * sizeof(float);
}

void decode_attention(const PagedAttentionParams& p, int partition_tokens, float* workspace,
                      cudaStream_t stream) {
  if (p.num_seqs == 0 || p.max_seq_len == 0) return;
  const int parts = decode_partitions(p.max_seq_len, partition_tokens);
  const std::size_t shared = (p.head_dim + partition_tokens + 32) * sizeof(float);
  const dim3 grid(parts, p.num_heads, p.num_seqs);
  if (p.cache_type == CUDA_R_16BF) {
    auto* k = &decode_attention_kernel<__nv_bfloat16>;
    LLM_LAUNCH(k, grid, kDecodeThreads, shared, stream, p, partition_tokens, parts, workspace);
  } else if (p.cache_type == CUDA_R_16F) {
    auto* k = &decode_attention_kernel<__half>;
    LLM_LAUNCH(k, grid, kDecodeThreads, shared, stream, p, partition_tokens, parts, workspace);
  } else {
    auto* k = &decode_attention_kernel<float>;
    LLM_LAUNCH(k, grid, kDecodeThreads, shared, stream, p, partition_tokens, parts, workspace);
  }
  if (parts > 1) {
    const int threads = p.head_dim <= 32 ? 32 : (p.head_dim <= 64 ? 64 : 128);
    LLM_LAUNCH(decode_combine_kernel, dim3(p.num_heads, p.num_seqs), threads, 0, stream, p,
               partition_tokens, parts, static_cast<const float*>(workspace));
  }
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
