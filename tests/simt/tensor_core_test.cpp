// The emulator's tensor-core instructions against the PTX ISA's definitions: mma.sync m16n8k16
// fragments (bf16 and f16) give A * B + C as float64 computes it; ldmatrix x1/x2/x4, plain and
// .trans, hand each lane the documented elements; cp.async lands only at the wait that covers
// its group. The layouts below are written out from the ISA's tables, independently of
// kernels/simt/tensor_core.cpp, and the inputs are fresh random numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/mma.h"

namespace {

using llm::cuda::cp_async_16;
using llm::cuda::cp_async_commit;
using llm::cuda::cp_async_wait;

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

template <typename T>
std::uint16_t bits16(float x) {
  const T h = T(x);
  std::uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
template <typename T>
float value16(float x) {
  return static_cast<float>(T(x));
}

// One warp: lane l loads its fragments of A (16x16), B (16x8) and C (16x8) by the ISA's table
// and stores D by it.
template <typename T>
__global__ void mma_kernel(const std::uint16_t* a, const std::uint16_t* b, const float* c,
                           float* d) {
  const int l = threadIdx.x, g = l / 4, t = l % 4;
  auto pair = [](std::uint16_t lo, std::uint16_t hi) {
    return std::uint32_t{lo} | (std::uint32_t{hi} << 16);
  };
  const std::uint32_t fa[4] = {
      pair(a[g * 16 + 2 * t], a[g * 16 + 2 * t + 1]),
      pair(a[(g + 8) * 16 + 2 * t], a[(g + 8) * 16 + 2 * t + 1]),
      pair(a[g * 16 + 2 * t + 8], a[g * 16 + 2 * t + 9]),
      pair(a[(g + 8) * 16 + 2 * t + 8], a[(g + 8) * 16 + 2 * t + 9]),
  };
  const std::uint32_t fb[2] = {pair(b[(2 * t) * 8 + g], b[(2 * t + 1) * 8 + g]),
                               pair(b[(2 * t + 8) * 8 + g], b[(2 * t + 9) * 8 + g])};
  const float fc[4] = {c[g * 8 + 2 * t], c[g * 8 + 2 * t + 1], c[(g + 8) * 8 + 2 * t],
                       c[(g + 8) * 8 + 2 * t + 1]};
  float fd[4];
  llm::cuda::mma_m16n8k16<T>(fd, fa, fb, fc);
  d[g * 8 + 2 * t] = fd[0];
  d[g * 8 + 2 * t + 1] = fd[1];
  d[(g + 8) * 8 + 2 * t] = fd[2];
  d[(g + 8) * 8 + 2 * t + 1] = fd[3];
}

template <typename T>
void check_mma(unsigned seed) {
  const std::vector<float> af = random_floats(256, seed), bf = random_floats(128, seed + 1),
                           c = random_floats(128, seed + 2);
  std::vector<std::uint16_t> a(256), b(128);
  for (int i = 0; i < 256; ++i) a[i] = bits16<T>(af[i]);
  for (int i = 0; i < 128; ++i) b[i] = bits16<T>(bf[i]);
  std::vector<float> d(128, NAN);
  LLM_LAUNCH(mma_kernel<T>, 1, 32, 0, nullptr, a.data(), b.data(), c.data(), d.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 8; ++j) {
      double want = c[i * 8 + j], mag = std::abs(want);
      for (int k = 0; k < 16; ++k) {
        const double p =
            static_cast<double>(value16<T>(af[i * 16 + k])) * value16<T>(bf[k * 8 + j]);
        want += p;
        mag += std::abs(p);
      }
      // f32 accumulation of exact products: within a few f32 roundings of the magnitude.
      EXPECT_NEAR(d[i * 8 + j], want, 1e-6 * mag) << "D[" << i << "][" << j << "]";
    }
  }
}

TEST(TensorCore, MmaBf16FragmentsGiveTheProduct) {
  for (unsigned s = 1; s <= 3; ++s) check_mma<__nv_bfloat16>(100 * s);
}
TEST(TensorCore, MmaF16FragmentsGiveTheProduct) {
  for (unsigned s = 1; s <= 3; ++s) check_mma<__half>(200 * s);
}

// Only lanes 0..15 reach the mma: .aligned is broken, the launch fails and results are NaN.
__global__ void half_warp_mma(float* d) {
  if (threadIdx.x >= 16) return;
  const std::uint32_t a[4] = {0x3f803f80u, 0x3f803f80u, 0x3f803f80u, 0x3f803f80u};
  const std::uint32_t b[2] = {0x3f803f80u, 0x3f803f80u};
  const float c[4] = {0, 0, 0, 0};
  float out[4];
  llm::cuda::mma_m16n8k16<__nv_bfloat16>(out, a, b, c);
  d[threadIdx.x] = out[0];
}

TEST(TensorCore, MmaWithLanesMissingFailsTheLaunch) {
  std::vector<float> d(16, 0.0f);
  testing::internal::CaptureStderr();
  LLM_LAUNCH(half_warp_mma, 1, 32, 0, nullptr, d.data());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  EXPECT_NE(err.find("mma.sync"), std::string::npos) << err;
  for (float x : d) EXPECT_TRUE(std::isnan(x));
}

// `count` 8x8 matrices of 16-bit values in shared memory with rows `stride` elements apart
// (matrix i at rows 8i..8i+7), loaded with ldmatrix; each lane stores its registers.
template <int kCount, bool kTrans>
__global__ void ldmatrix_kernel(const std::uint16_t* src, int stride, std::uint32_t* out) {
  LLM_DYNAMIC_SHARED(std::uint16_t, smem);
  for (int i = threadIdx.x; i < 8 * kCount * stride; i += 32) smem[i] = src[i];
  __syncthreads();
  const int l = threadIdx.x;
  const std::uint16_t* row = smem + (l % (8 * kCount)) * stride;
  std::uint32_t r[4] = {0, 0, 0, 0};
  if constexpr (kCount == 4) {
    llm::cuda::ldmatrix_x4<kTrans>(r, row);
  } else if constexpr (kCount == 2) {
    std::uint32_t two[2];
    llm::cuda::ldmatrix_x2<kTrans>(two, row);
    r[0] = two[0];
    r[1] = two[1];
  } else {
    llm::cuda::ldmatrix_x1<kTrans>(r[0], row);
  }
  for (int i = 0; i < kCount; ++i) out[l * 4 + i] = r[i];
}

template <int kCount, bool kTrans>
void check_ldmatrix(int stride) {
  std::mt19937 rng(kCount * 10 + kTrans);
  std::vector<std::uint16_t> src(static_cast<std::size_t>(8 * kCount * stride));
  for (auto& x : src) x = static_cast<std::uint16_t>(rng());
  std::vector<std::uint32_t> out(128, 0xdeadbeefu);
  const auto shared = src.size() * 2;
  LLM_LAUNCH((ldmatrix_kernel<kCount, kTrans>), 1, 32, shared, nullptr, src.data(), stride,
             out.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (int l = 0; l < 32; ++l) {
    for (int i = 0; i < kCount; ++i) {
      // Matrix i element (r, c) lives at src[(8i + r) * stride + c].
      const int r = kTrans ? 2 * (l % 4) : l / 4, c = kTrans ? l / 4 : 2 * (l % 4);
      const std::uint16_t lo = src[(8 * i + r) * stride + c];
      const std::uint16_t hi =
          kTrans ? src[(8 * i + r + 1) * stride + c] : src[(8 * i + r) * stride + c + 1];
      EXPECT_EQ(out[l * 4 + i], std::uint32_t{lo} | (std::uint32_t{hi} << 16))
          << "lane " << l << " matrix " << i;
    }
  }
}

TEST(TensorCore, LdmatrixGivesEachLaneItsElements) {
  check_ldmatrix<1, false>(8);
  check_ldmatrix<1, true>(8);
  check_ldmatrix<2, false>(16);
  check_ldmatrix<2, true>(16);
  check_ldmatrix<4, false>(24);
  check_ldmatrix<4, true>(24);
}

TEST(TensorCore, LdmatrixCountsBankConflicts) {
  // Rows 64 elements (128 bytes) apart all fall in one bank group: 7 extra wavefronts per
  // matrix. Padded to 72 elements (144 bytes) they fall in 8 different groups.
  std::uint64_t before = llm::simt::shared_bank_conflicts();
  check_ldmatrix<4, false>(64);
  EXPECT_EQ(llm::simt::shared_bank_conflicts() - before, 4u * 7u);
  before = llm::simt::shared_bank_conflicts();
  check_ldmatrix<4, true>(72);
  EXPECT_EQ(llm::simt::shared_bank_conflicts() - before, 0u);
}

// Each thread copies two 16-byte chunks in two commit groups, then waits for kWait groups to
// remain pending, then every thread reads the whole buffer after a barrier.
template <int kWait>
__global__ void cp_async_kernel(const float* src, float* out, int n_valid_chunks) {
  LLM_DYNAMIC_SHARED(float, smem);
  const int t = threadIdx.x, n = blockDim.x;
  cp_async_16(smem + 4 * t, src + 4 * t, t < n_valid_chunks);
  cp_async_commit();
  cp_async_16(smem + 4 * (n + t), src + 4 * (n + t), true);
  cp_async_commit();
  cp_async_wait<kWait>();
  __syncthreads();
  for (int i = 0; i < 8; ++i) out[8 * t + i] = smem[8 * t + i];
}

template <int kWait>
std::vector<float> run_cp_async(const std::vector<float>& src, int valid) {
  std::vector<float> out(src.size(), 0.0f);
  LLM_LAUNCH(cp_async_kernel<kWait>, 1, 32, src.size() * 4, nullptr, src.data(), out.data(), valid);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  return out;
}

TEST(TensorCore, CpAsyncLandsAtTheWaitForItsGroup) {
  const std::vector<float> src = random_floats(256, 7);
  // wait_group 0: everything landed; chunks past n_valid are zero-filled.
  std::vector<float> out = run_cp_async<0>(src, 20);
  for (int i = 0; i < 256; ++i) {
    const bool zero = i < 128 && i / 4 >= 20;
    EXPECT_EQ(out[i], zero ? 0.0f : src[i]) << i;
  }
  // wait_group 1: the first group landed, the newest is still in flight (poison).
  out = run_cp_async<1>(src, 32);
  for (int i = 0; i < 128; ++i) EXPECT_EQ(out[i], src[i]) << i;
  for (int i = 128; i < 256; ++i) EXPECT_TRUE(std::isnan(out[i])) << i;
  // wait_group 2: nothing waited for; all of it reads as poison.
  out = run_cp_async<2>(src, 32);
  for (int i = 0; i < 256; ++i) EXPECT_TRUE(std::isnan(out[i])) << i;
}

__global__ void cp_async_to_global(const float* src, float* dst) {
  cp_async_16(dst, src, true);
  cp_async_wait<0>();
}

TEST(TensorCore, CpAsyncOutsideSharedMemoryFailsTheLaunch) {
  alignas(16) float src[4] = {1, 2, 3, 4};
  alignas(16) float dst[4] = {};
  testing::internal::CaptureStderr();
  LLM_LAUNCH(cp_async_to_global, 1, 1, 0, nullptr, src, dst);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  EXPECT_NE(err.find("cp.async"), std::string::npos) << err;
}

}  // namespace
