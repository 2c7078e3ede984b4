// CpuBackend::prepare_mixed_linear_weight: a weight stacked from parts of different quantized
// types (a Q4_K_M layer's Q4_K queries and keys beside Q6_K values) must give, in each part's
// columns, exactly what that part gives as a weight of its own: the same kernels over the same
// panels, whatever the batch and however the panels fall between the threads.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "engine/backend/cpu_backend.h"
#include "llm/error.h"
#include "tests/unit/quant_random_blocks.h"

namespace llm {
namespace {

struct Part {
  DType type;
  int64_t rows;
};

TEST(CpuMixedWeight, EachPartsColumnsEqualThatPartAlone) {
  const int64_t K = 512;
  // Row counts off the 16-row panels, so chunks of the loop end inside a part.
  const std::vector<Part> spec = {
      {DType::kQ4_K, 40}, {DType::kQ6_K, 24}, {DType::kQ8_0, 17}, {DType::kQ5_K, 16}};
  CpuBackend backend(2);
  std::vector<std::vector<unsigned char>> bytes;  // each part [rows][row bytes], as a GGUF file
  std::vector<Tensor> parts;
  int64_t N = 0;
  for (size_t i = 0; i < spec.size(); ++i) {
    bytes.push_back(cpu::test::random_rows(spec[i].type, spec[i].rows, K, 100 + i));
    parts.emplace_back(bytes.back().data(), spec[i].type,
                       std::initializer_list<int64_t>{spec[i].rows, K});
    N += spec[i].rows;
  }
  std::optional<OwnedTensor> mixed = backend.prepare_mixed_linear_weight(parts);
  ASSERT_TRUE(mixed);
  ASSERT_EQ(mixed->tensor.size(0), N);
  std::vector<OwnedTensor> alone;
  for (const Tensor& p : parts) alone.push_back(*backend.prepare_linear_weight(p));

  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const int64_t T : {1, 3, 33}) {
    std::vector<float> x(static_cast<size_t>(T * K));  // [T, K]
    for (float& v : x) v = normal(rng);
    std::vector<float> got(static_cast<size_t>(T * N));  // [T, N]
    backend.matmul(Tensor(x.data(), DType::kF32, {T, K}), mixed->tensor,
                   Tensor(got.data(), DType::kF32, {T, N}));
    int64_t col = 0;
    for (size_t i = 0; i < spec.size(); ++i) {
      const int64_t n = spec[i].rows;
      std::vector<float> want(static_cast<size_t>(T * n));  // [T, n]
      backend.matmul(Tensor(x.data(), DType::kF32, {T, K}), alone[i].tensor,
                     Tensor(want.data(), DType::kF32, {T, n}));
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t j = 0; j < n; ++j) {
          ASSERT_EQ(std::memcmp(&got[static_cast<size_t>(t * N + col + j)],
                                &want[static_cast<size_t>(t * n + j)], sizeof(float)),
                    0)
              << "T " << T << " part " << i << " row " << t << " column " << j;
        }
      }
      col += n;
    }
  }
}

TEST(CpuMixedWeight, RefusesPartsOfAnotherWidthOrAFloatPart) {
  CpuBackend backend(1);
  auto a = cpu::test::random_rows(DType::kQ8_0, 16, 64, 1);
  auto b = cpu::test::random_rows(DType::kQ4_0, 16, 96, 2);
  std::vector<float> f(16 * 64, 0.5f);
  const std::vector<Tensor> widths = {Tensor(a.data(), DType::kQ8_0, {16, 64}),
                                      Tensor(b.data(), DType::kQ4_0, {16, 96})};
  EXPECT_THROW(backend.prepare_mixed_linear_weight(widths), Error);
  const std::vector<Tensor> floats = {Tensor(a.data(), DType::kQ8_0, {16, 64}),
                                      Tensor(f.data(), DType::kF32, {16, 64})};
  EXPECT_THROW(backend.prepare_mixed_linear_weight(floats), Error);
}

}  // namespace
}  // namespace llm
