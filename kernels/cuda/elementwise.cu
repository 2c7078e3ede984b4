// Elementwise CUDA kernels. Built by nvcc for every configured architecture, and by the host
// compiler against kernels/simt for tests (see DESIGN.md, "CUDA code paths run in CI").
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/launch.h"
// (launch.h and elementwise.h bring cuda_api.h first.)
#include "kernels/cuda/common.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(long long n) {
  return static_cast<unsigned>((n + kThreads - 1) / kThreads);
}

}  // namespace

// out[t, f] = act(gate_up[t, f]) * gate_up[t, F + f], one thread per output element; act is
// SiLU (SwiGLU) or, with kGelu, PyTorch's tanh GELU (Gemma's GeGLU).
template <bool kGelu>
__global__ void gated_mul_kernel(const float* gate_up, long long num_tokens, long long F,
                                 float* out) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= num_tokens * F) return;
  const long long t = i / F, f = i % F;
  const float g = gate_up[t * 2 * F + f];
  const float act = kGelu ? 0.5f * g * (1.0f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g)))
                          : g / (1.0f + __expf(-g));
  out[i] = act * gate_up[t * 2 * F + F + f];
}

template <bool kGelu>
void gated_mul(const float* gate_up, long long num_tokens, long long F, float* out,
               cudaStream_t stream) {
  const unsigned blocks = blocks_for(num_tokens * F);
  auto* k = &gated_mul_kernel<kGelu>;
  if (blocks > 0) LLM_LAUNCH(k, blocks, kThreads, 0, stream, gate_up, num_tokens, F, out);
}

void silu_mul(const float* gate_up, long long num_tokens, long long F, float* out,
              cudaStream_t stream) {
  gated_mul<false>(gate_up, num_tokens, F, out, stream);
}

void gelu_tanh_mul(const float* gate_up, long long num_tokens, long long F, float* out,
                   cudaStream_t stream) {
  gated_mul<true>(gate_up, num_tokens, F, out, stream);
}

// kCap: x = c * tanh(x / c); else x = x * c.
template <bool kCap>
__global__ void scale_kernel(float* x, long long n, float c) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = kCap ? c * tanhf(x[i] / c) : x[i] * c;
}

void scale(float* x, long long n, float c, cudaStream_t stream) {
  const unsigned blocks = blocks_for(n);
  auto* k = &scale_kernel<false>;
  if (blocks > 0) LLM_LAUNCH(k, blocks, kThreads, 0, stream, x, n, c);
}

void softcap(float* x, long long n, float cap, cudaStream_t stream) {
  const unsigned blocks = blocks_for(n);
  auto* k = &scale_kernel<true>;
  if (blocks > 0) LLM_LAUNCH(k, blocks, kThreads, 0, stream, x, n, cap);
}

__global__ void add_bias_kernel(float* x, const float* bias, long long num_tokens, long long N) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < num_tokens * N) x[i] += bias[i % N];
}

void add_bias(float* x, const float* bias, long long num_tokens, long long N, cudaStream_t stream) {
  const unsigned blocks = blocks_for(num_tokens * N);
  if (blocks > 0) LLM_LAUNCH(add_bias_kernel, blocks, kThreads, 0, stream, x, bias, num_tokens, N);
}

template <typename T>
__global__ void convert_f32_kernel(const float* in, long long n, T* out) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = from_f32<T>(in[i]);
}

void convert_f32(const float* in, long long n, void* out, cudaDataType out_type,
                 cudaStream_t stream) {
  const unsigned blocks = blocks_for(n);
  if (blocks == 0) return;
  if (out_type == CUDA_R_16BF) {
    auto* k = &convert_f32_kernel<__nv_bfloat16>;
    LLM_LAUNCH(k, blocks, kThreads, 0, stream, in, n, static_cast<__nv_bfloat16*>(out));
  } else if (out_type == CUDA_R_16F) {
    auto* k = &convert_f32_kernel<__half>;
    LLM_LAUNCH(k, blocks, kThreads, 0, stream, in, n, static_cast<__half*>(out));
  } else {
    auto* k = &convert_f32_kernel<float>;
    LLM_LAUNCH(k, blocks, kThreads, 0, stream, in, n, static_cast<float*>(out));
  }
}

// One block per gathered row; threads stride over the row (coalesced reads and writes).
template <typename T>
__global__ void embedding_kernel(const T* table, const int* ids, long long dim, float* out) {
  const long long row = blockIdx.x;
  const int id = ids[row];
  if (id < 0) {  // a token whose row another tensor-parallel rank holds
    for (long long i = threadIdx.x; i < dim; i += blockDim.x) out[row * dim + i] = 0.0f;
    return;
  }
  const T* src = table + static_cast<long long>(id) * dim;
  for (long long i = threadIdx.x; i < dim; i += blockDim.x) out[row * dim + i] = to_f32(src[i]);
}

void embedding(const void* table, cudaDataType type, const int* ids, long long num_ids,
               long long dim, float* out, cudaStream_t stream) {
  if (num_ids == 0) return;
  const unsigned blocks = static_cast<unsigned>(num_ids);
  // Small rows (stories260K's 64) need few threads; the emulator runs each one as a fiber.
  const int threads = dim >= 256 ? 256 : (dim >= 64 ? 64 : 32);
  if (type == CUDA_R_16BF) {
    auto* k = &embedding_kernel<__nv_bfloat16>;
    LLM_LAUNCH(k, blocks, threads, 0, stream, static_cast<const __nv_bfloat16*>(table), ids, dim,
               out);
  } else if (type == CUDA_R_16F) {
    auto* k = &embedding_kernel<__half>;
    LLM_LAUNCH(k, blocks, threads, 0, stream, static_cast<const __half*>(table), ids, dim, out);
  } else {
    auto* k = &embedding_kernel<float>;
    LLM_LAUNCH(k, blocks, threads, 0, stream, static_cast<const float*>(table), ids, dim, out);
  }
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
