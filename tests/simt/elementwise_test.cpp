// kernels/cuda/elementwise.cu, compiled by the host compiler and run by the emulator, against a
// float64 reference.
#include "kernels/cuda/elementwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

TEST(SimtElementwise, SiluMulMatchesFloat64Reference) {
  const long long tokens = 3, F = 300;  // 900 outputs: three full blocks and a partial one
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-6.0f, 6.0f);
  std::vector<float> gate_up(static_cast<std::size_t>(tokens * 2 * F));
  for (float& x : gate_up) x = dist(rng);

  float* d_in = nullptr;
  float* d_out = nullptr;
  const std::size_t n = static_cast<std::size_t>(tokens * F);
  ASSERT_EQ(cudaMalloc(&d_in, gate_up.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_out, (n + 1) * sizeof(float)), cudaSuccess);  // +1: must stay unwritten
  ASSERT_EQ(
      cudaMemcpy(d_in, gate_up.data(), gate_up.size() * sizeof(float), cudaMemcpyHostToDevice),
      cudaSuccess);
  ASSERT_EQ(cudaMemset(d_out, 0xFF, (n + 1) * sizeof(float)), cudaSuccess);  // NaN everywhere
  llm::cuda::silu_mul(d_in, tokens, F, d_out, CUDA_R_32F, nullptr);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  std::vector<float> out(n + 1);
  ASSERT_EQ(cudaMemcpy(out.data(), d_out, out.size() * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);

  for (long long t = 0; t < tokens; ++t) {
    for (long long f = 0; f < F; ++f) {
      const double g = gate_up[static_cast<std::size_t>(t * 2 * F + f)];
      const double u = gate_up[static_cast<std::size_t>(t * 2 * F + F + f)];
      const double want = g / (1.0 + std::exp(-g)) * u;
      const float got = out[static_cast<std::size_t>(t * F + f)];
      EXPECT_NEAR(got, want, 1e-5 * (std::abs(want) + 1e-3)) << t << "," << f;
    }
  }
  EXPECT_TRUE(std::isnan(out[n])) << "wrote past the end";
  EXPECT_EQ(cudaFree(d_in), cudaSuccess);
  EXPECT_EQ(cudaFree(d_out), cudaSuccess);
}

}  // namespace
