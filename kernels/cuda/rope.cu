// Rotate-half RoPE: one thread per (token, head, i < head_dim / 2) pair of elements i and
// i + head_dim / 2, which it reads and writes alone (in place, no barrier needed).
#include "kernels/cuda/launch.h"
#include "kernels/cuda/rope.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

__global__ void rope_kernel(float* qkv, long long num_tokens, long long ld, const int* positions,
                            const float* cos_sin, int heads, int head_dim, int half) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= num_tokens * heads * half) return;
  const long long t = i / (static_cast<long long>(heads) * half);
  const int h = static_cast<int>(i / half % heads), j = static_cast<int>(i % half);
  const float* cs = cos_sin + (static_cast<long long>(positions[t]) * half + j) * 2;
  float* x = qkv + t * ld + static_cast<long long>(h) * head_dim;
  const float x1 = x[j], x2 = x[j + half], c = cs[0], s = cs[1];
  x[j] = x1 * c - x2 * s;
  x[j + half] = x2 * c + x1 * s;
}

void rope(float* qkv, long long num_tokens, long long ld, const int* positions,
          const float* cos_sin, int num_heads, int num_kv_heads, int head_dim, int half,
          cudaStream_t stream) {
  const int heads = num_heads + num_kv_heads;
  const long long n = num_tokens * heads * half;
  const int threads = 256;
  if (n == 0) return;
  LLM_LAUNCH(rope_kernel, static_cast<unsigned>((n + threads - 1) / threads), threads, 0, stream,
             qkv, num_tokens, ld, positions, cos_sin, heads, head_dim, half);
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
