// RMSNorm, alone and fused with the residual add: one block per row, the sum of squares reduced
// by warp shuffles and then across warps through shared memory.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/norm.h"
// (launch.h and norm.h bring cuda_api.h first.)
#include "kernels/cuda/common.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// kAdd: x is the residual stream, updated in place with delta before the norm. Each thread
// touches the same elements in both passes, so no barrier is needed between the update and the
// read-back.
template <bool kAdd, typename Out>
__global__ void rmsnorm_kernel(float* x, const float* delta, const float* weight, long long dim,
                               float eps, Out* out) {
  LLM_SHARED(float, scratch, 32);
  const long long base = static_cast<long long>(blockIdx.x) * dim;
  float ss = 0.0f;
  for (long long i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = x[base + i];
    if (kAdd) {
      v += delta[base + i];
      x[base + i] = v;
    }
    ss += v * v;
  }
  ss = block_reduce<false>(ss, scratch);
  const float inv = rsqrtf(ss / static_cast<float>(dim) + eps);
  for (long long i = threadIdx.x; i < dim; i += blockDim.x) {
    out[base + i] = from_f32<Out>(x[base + i] * inv * weight[i]);
  }
}

// One block per (token, head) of the query and key heads, normalised in place.
template <typename A>
__global__ void qk_norm_kernel(A* qkv, const float* q_weight, const float* k_weight, int row_heads,
                               int num_qk, int num_q, long long head_dim, float eps) {
  LLM_SHARED(float, scratch, 32);
  const long long token = blockIdx.x / num_qk;
  const int head = static_cast<int>(blockIdx.x % num_qk);
  A* x = qkv + (token * row_heads + head) * head_dim;
  const float* weight = head < num_q ? q_weight : k_weight;
  float ss = 0.0f;
  for (long long i = threadIdx.x; i < head_dim; i += blockDim.x) {
    const float v = to_f32(x[i]);
    ss += v * v;
  }
  ss = block_reduce<false>(ss, scratch);
  const float inv = rsqrtf(ss / static_cast<float>(head_dim) + eps);
  // Each thread rewrites only the elements it read above.
  for (long long i = threadIdx.x; i < head_dim; i += blockDim.x) {
    x[i] = from_f32<A>(to_f32(x[i]) * inv * weight[i]);
  }
}

namespace {

// Threads per row: a warp per 128 elements, 32..512 (the emulator pays per thread, and tiny
// rows such as stories260K's 64 leave most of a big block idle anyway).
int threads_for(long long dim) {
  long long t = (dim + 127) / 128 * 32;
  return static_cast<int>(t < 32 ? 32 : (t > 512 ? 512 : t));
}

}  // namespace

void rmsnorm(const float* x, const float* weight, long long rows, long long dim, float eps,
             void* out, cudaDataType out_type, cudaStream_t stream) {
  if (rows == 0) return;
  with_storage_type(out_type, [&](auto tag) {
    using Out = decltype(tag);
    auto* k = &rmsnorm_kernel<false, Out>;
    // x is not written when kAdd is false; the kernel takes one pointer type for both forms.
    LLM_LAUNCH(k, static_cast<unsigned>(rows), threads_for(dim), 0, stream, const_cast<float*>(x),
               static_cast<const float*>(nullptr), weight, dim, eps, static_cast<Out*>(out));
  });
}

void qk_norm(void* qkv, cudaDataType qkv_type, const float* q_weight, const float* k_weight,
             long long tokens, int row_heads, int num_q, int num_k, long long head_dim, float eps,
             cudaStream_t stream) {
  const long long blocks = tokens * (num_q + num_k);
  if (blocks == 0) return;
  with_storage_type(qkv_type, [&](auto tag) {
    using A = decltype(tag);
    auto* k = &qk_norm_kernel<A>;
    LLM_LAUNCH(k, static_cast<unsigned>(blocks), threads_for(head_dim), 0, stream,
               static_cast<A*>(qkv), q_weight, k_weight, row_heads, num_q + num_k, num_q, head_dim,
               eps);
  });
}

void add_rmsnorm(float* residual, const float* delta, const float* weight, long long rows,
                 long long dim, float eps, void* out, cudaDataType out_type, cudaStream_t stream) {
  if (rows == 0) return;
  with_storage_type(out_type, [&](auto tag) {
    using Out = decltype(tag);
    auto* k = &rmsnorm_kernel<true, Out>;
    LLM_LAUNCH(k, static_cast<unsigned>(rows), threads_for(dim), 0, stream, residual, delta, weight,
               dim, eps, static_cast<Out*>(out));
  });
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
