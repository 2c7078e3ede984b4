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
// SiLU (SwiGLU) or, with kGelu, PyTorch's tanh GELU (Gemma's GeGLU). A: the activations' type.
template <bool kGelu, typename A>
__global__ void gated_mul_kernel(const A* gate_up, long long num_tokens, long long F, A* out) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= num_tokens * F) return;
  const long long t = i / F, f = i % F;
  const float g = to_f32(gate_up[t * 2 * F + f]);
  const float act = kGelu ? 0.5f * g * (1.0f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g)))
                          : g / (1.0f + __expf(-g));
  out[i] = from_f32<A>(act * to_f32(gate_up[t * 2 * F + F + f]));
}

template <bool kGelu>
void gated_mul(const void* gate_up, long long num_tokens, long long F, void* out, cudaDataType type,
               cudaStream_t stream) {
  const unsigned blocks = blocks_for(num_tokens * F);
  if (blocks == 0) return;
  with_storage_type(type, [&](auto tag) {
    using A = decltype(tag);
    auto* k = &gated_mul_kernel<kGelu, A>;
    LLM_LAUNCH(k, blocks, kThreads, 0, stream, static_cast<const A*>(gate_up), num_tokens, F,
               static_cast<A*>(out));
  });
}

void silu_mul(const void* gate_up, long long num_tokens, long long F, void* out, cudaDataType type,
              cudaStream_t stream) {
  gated_mul<false>(gate_up, num_tokens, F, out, type, stream);
}

void gelu_tanh_mul(const void* gate_up, long long num_tokens, long long F, void* out,
                   cudaDataType type, cudaStream_t stream) {
  gated_mul<true>(gate_up, num_tokens, F, out, type, stream);
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

template <typename A>
__global__ void add_bias_kernel(A* x, const float* bias, long long num_tokens, long long N) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < num_tokens * N) x[i] = from_f32<A>(to_f32(x[i]) + bias[i % N]);
}

void add_bias(void* x, cudaDataType type, const float* bias, long long num_tokens, long long N,
              cudaStream_t stream) {
  const unsigned blocks = blocks_for(num_tokens * N);
  if (blocks == 0) return;
  with_storage_type(type, [&](auto tag) {
    using A = decltype(tag);
    auto* k = &add_bias_kernel<A>;
    LLM_LAUNCH(k, blocks, kThreads, 0, stream, static_cast<A*>(x), bias, num_tokens, N);
  });
}

template <typename In, typename Out>
__global__ void convert_kernel(const In* in, long long n, Out* out) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = from_f32<Out>(to_f32(in[i]));
}

void convert(const void* in, cudaDataType in_type, long long n, void* out, cudaDataType out_type,
             cudaStream_t stream) {
  const unsigned blocks = blocks_for(n);
  if (blocks == 0) return;
  with_storage_type(in_type, [&](auto in_tag) {
    with_storage_type(out_type, [&](auto out_tag) {
      using In = decltype(in_tag);
      using Out = decltype(out_tag);
      auto* k = &convert_kernel<In, Out>;
      LLM_LAUNCH(k, blocks, kThreads, 0, stream, static_cast<const In*>(in), n,
                 static_cast<Out*>(out));
    });
  });
}

// One block per gathered row; threads stride over the row (coalesced reads and writes).
template <typename T, typename Out>
__global__ void embedding_kernel(const T* table, const int* ids, long long dim, Out* out) {
  const long long row = blockIdx.x;
  const int id = ids[row];
  if (id < 0) {  // a token whose row another tensor-parallel rank holds
    for (long long i = threadIdx.x; i < dim; i += blockDim.x)
      out[row * dim + i] = from_f32<Out>(0.0f);
    return;
  }
  const T* src = table + static_cast<long long>(id) * dim;
  for (long long i = threadIdx.x; i < dim; i += blockDim.x) {
    out[row * dim + i] = from_f32<Out>(to_f32(src[i]));
  }
}

void embedding(const void* table, cudaDataType type, const int* ids, long long num_ids,
               long long dim, void* out, cudaDataType out_type, cudaStream_t stream) {
  if (num_ids == 0) return;
  const unsigned blocks = static_cast<unsigned>(num_ids);
  // Small rows (stories260K's 64) need few threads; the emulator runs each one as a fiber.
  const int threads = dim >= 256 ? 256 : (dim >= 64 ? 64 : 32);
  with_storage_type(type, [&](auto table_tag) {
    with_storage_type(out_type, [&](auto out_tag) {
      using T = decltype(table_tag);
      using Out = decltype(out_tag);
      auto* k = &embedding_kernel<T, Out>;
      LLM_LAUNCH(k, blocks, threads, 0, stream, static_cast<const T*>(table), ids, dim,
                 static_cast<Out*>(out));
    });
  });
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
