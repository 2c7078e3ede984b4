// Writing new keys and values into the paged cache: one thread per (token, kv head, dim), so
// consecutive threads write consecutive elements of one cache row.
#include "kernels/cuda/kv_cache.h"
#include "kernels/cuda/launch.h"
// (launch.h and kv_cache.h bring cuda_api.h first.)
#include "kernels/cuda/common.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

template <typename T, typename A>
__global__ void kv_write_kernel(const A* qkv, long long num_tokens, long long ld,
                                long long k_offset, long long v_offset, const int* slot_mapping,
                                int num_kv_heads, int head_dim, int block_size, T* k_cache,
                                T* v_cache) {
  const long long row = static_cast<long long>(num_kv_heads) * head_dim;
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= num_tokens * row) return;
  const long long t = i / row, c = i % row;
  const int slot = slot_mapping[t];
  if (slot < 0) return;
  const long long h = c / head_dim, d = c % head_dim;
  const long long at =
      ((static_cast<long long>(slot / block_size) * num_kv_heads + h) * block_size +
       slot % block_size) *
          head_dim +
      d;
  k_cache[at] = from_f32<T>(to_f32(qkv[t * ld + k_offset + c]));
  v_cache[at] = from_f32<T>(to_f32(qkv[t * ld + v_offset + c]));
}

void kv_write(const void* qkv, cudaDataType qkv_type, long long num_tokens, long long ld,
              long long k_offset, long long v_offset, const int* slot_mapping, int num_kv_heads,
              int head_dim, int block_size, void* k_cache, void* v_cache, cudaDataType cache_type,
              cudaStream_t stream) {
  const long long n = num_tokens * num_kv_heads * head_dim;
  const int threads = 256;
  if (n == 0) return;
  const unsigned blocks = static_cast<unsigned>((n + threads - 1) / threads);
  with_storage_type(cache_type, [&](auto cache_tag) {
    with_storage_type(qkv_type, [&](auto act_tag) {
      using T = decltype(cache_tag);
      using A = decltype(act_tag);
      auto* k = &kv_write_kernel<T, A>;
      LLM_LAUNCH(k, blocks, threads, 0, stream, static_cast<const A*>(qkv), num_tokens, ld,
                 k_offset, v_offset, slot_mapping, num_kv_heads, head_dim, block_size,
                 static_cast<T*>(k_cache), static_cast<T*>(v_cache));
    });
  });
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
