// Rotate-half RoPE: one thread per (token, head, i < head_dim / 2) pair of elements i and
// i + head_dim / 2, which it reads and writes alone (in place, no barrier needed); and the same
// fused with the paged-cache write of the keys and values (rope_kv_write).
#include "kernels/cuda/launch.h"
#include "kernels/cuda/rope.h"
// (launch.h brings cuda_api.h first.)
#include "kernels/cuda/common.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

template <typename A>
__global__ void rope_kernel(A* qkv, long long num_tokens, long long ld, const int* positions,
                            const float* cos_sin, int heads, int head_dim, int half) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= num_tokens * heads * half) return;
  const long long t = i / (static_cast<long long>(heads) * half);
  const int h = static_cast<int>(i / half % heads), j = static_cast<int>(i % half);
  const float* cs = cos_sin + (static_cast<long long>(positions[t]) * half + j) * 2;
  A* x = qkv + t * ld + static_cast<long long>(h) * head_dim;
  const float x1 = to_f32(x[j]), x2 = to_f32(x[j + half]), c = cs[0], s = cs[1];
  x[j] = from_f32<A>(x1 * c - x2 * s);
  x[j + half] = from_f32<A>(x2 * c + x1 * s);
}

void rope(void* qkv, cudaDataType qkv_type, long long num_tokens, long long ld,
          const int* positions, const float* cos_sin, int num_heads, int num_kv_heads, int head_dim,
          int half, cudaStream_t stream) {
  const int heads = num_heads + num_kv_heads;
  const long long n = num_tokens * heads * half;
  const int threads = 256;
  if (n == 0) return;
  with_storage_type(qkv_type, [&](auto tag) {
    using A = decltype(tag);
    auto* k = &rope_kernel<A>;
    LLM_LAUNCH(k, static_cast<unsigned>((n + threads - 1) / threads), threads, 0, stream,
               static_cast<A*>(qkv), num_tokens, ld, positions, cos_sin, heads, head_dim, half);
  });
}

// One thread per (token, head of all H + 2 KVH, p < head_dim - half). For a query or key head,
// p < half is the rotated pair (p, p + half) and p >= half the unrotated element p + half (a
// partial rotary); a key head's results also go to the cache. For a value head, the thread
// copies element p, and p + (head_dim - half) when p < half, so the row's head_dim elements
// are covered once.
template <typename T, typename A>
__global__ void rope_kv_write_kernel(A* qkv, long long num_tokens, long long ld,
                                     const int* positions, const float* cos_sin,
                                     const int* slot_mapping, int num_heads, int num_kv_heads,
                                     int head_dim, int half, int block_size, T* k_cache,
                                     T* v_cache) {
  const int heads = num_heads + 2 * num_kv_heads, per_head = head_dim - half;
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= num_tokens * heads * per_head) return;
  const long long t = i / (static_cast<long long>(heads) * per_head);
  const int h = static_cast<int>(i / per_head % heads), p = static_cast<int>(i % per_head);
  A* x = qkv + t * ld + static_cast<long long>(h) * head_dim;
  const int slot = slot_mapping[t];
  const bool is_k = h >= num_heads && h < num_heads + num_kv_heads;
  const bool is_v = h >= num_heads + num_kv_heads;
  // The cache row of this token's kv head (when it has a slot).
  T* row = nullptr;
  if ((is_k || is_v) && slot >= 0) {
    const int kvh = h - num_heads - (is_v ? num_kv_heads : 0);
    const long long at =
        ((static_cast<long long>(slot / block_size) * num_kv_heads + kvh) * block_size +
         slot % block_size) *
        head_dim;
    row = (is_k ? k_cache : v_cache) + at;
  }
  if (is_v) {
    if (row) {
      row[p] = from_f32<T>(to_f32(x[p]));
      if (p < half) row[p + per_head] = from_f32<T>(to_f32(x[p + per_head]));
    }
    return;
  }
  if (p >= half) {  // beyond the rotary dimensions: unchanged
    if (row) row[p + half] = from_f32<T>(to_f32(x[p + half]));
    return;
  }
  const float* cs = cos_sin + (static_cast<long long>(positions[t]) * half + p) * 2;
  const float x1 = to_f32(x[p]), x2 = to_f32(x[p + half]), c = cs[0], s = cs[1];
  // Rounded once to the activations' type; the cache gets that value, as kv_write would store it.
  const A y1 = from_f32<A>(x1 * c - x2 * s), y2 = from_f32<A>(x2 * c + x1 * s);
  x[p] = y1;
  x[p + half] = y2;
  if (row) {
    row[p] = from_f32<T>(to_f32(y1));
    row[p + half] = from_f32<T>(to_f32(y2));
  }
}

void rope_kv_write(void* qkv, cudaDataType qkv_type, long long num_tokens, long long ld,
                   const int* positions, const float* cos_sin, const int* slot_mapping,
                   int num_heads, int num_kv_heads, int head_dim, int half, int block_size,
                   void* k_cache, void* v_cache, cudaDataType cache_type, cudaStream_t stream) {
  const long long n =
      num_tokens * (num_heads + 2LL * num_kv_heads) * static_cast<long long>(head_dim - half);
  const int threads = 256;
  if (n == 0) return;
  const unsigned blocks = static_cast<unsigned>((n + threads - 1) / threads);
  with_storage_type(cache_type, [&](auto cache_tag) {
    with_storage_type(qkv_type, [&](auto act_tag) {
      using T = decltype(cache_tag);
      using A = decltype(act_tag);
      auto* k = &rope_kv_write_kernel<T, A>;
      LLM_LAUNCH(k, blocks, threads, 0, stream, static_cast<A*>(qkv), num_tokens, ld, positions,
                 cos_sin, slot_mapping, num_heads, num_kv_heads, head_dim, half, block_size,
                 static_cast<T*>(k_cache), static_cast<T*>(v_cache));
    });
  });
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
