// Elementwise CUDA kernels. Built by nvcc for every configured architecture, and by the host
// compiler against kernels/simt for tests (see DESIGN.md, "CUDA code paths run in CI").
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/launch.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

// out[t, f] = silu(gate_up[t, f]) * gate_up[t, F + f]; one thread per output element.
__global__ void silu_mul_kernel(const float* gate_up, long long num_tokens, long long F,
                                float* out) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= num_tokens * F) return;
  const long long t = i / F, f = i % F;
  const float g = gate_up[t * 2 * F + f];
  out[i] = g / (1.0f + __expf(-g)) * gate_up[t * 2 * F + F + f];
}

void silu_mul(const float* gate_up, long long num_tokens, long long F, float* out,
              cudaStream_t stream) {
  const long long n = num_tokens * F;
  const int threads = 256;
  const unsigned blocks = static_cast<unsigned>((n + threads - 1) / threads);
  if (blocks > 0) {
    LLM_LAUNCH(silu_mul_kernel, blocks, threads, 0, stream, gate_up, num_tokens, F, out);
  }
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
