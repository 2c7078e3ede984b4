// GGUF block conversions and the packed quantized weights, checked by their properties (the
// bit-for-bit comparison with the gguf package is tests/gguf/quant_diff.py).
#include "kernels/cpu/quant_blocks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tests/unit/quant_random_blocks.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/quant_matmul.h"

namespace llm::cpu {
namespace {

using test::normal_floats;

std::vector<unsigned char> quantize(DType type, const std::vector<float>& x, int64_t n) {
  std::vector<unsigned char> q(static_cast<size_t>(quant_blocks_for(n)) * dtype_block_bytes(type));
  quantize_row(type, x.data(), n, q.data());
  return q;
}

class QuantBlocks : public ::testing::TestWithParam<DType> {};

// Each element comes back within half a quantization step d of itself (Q8_0: d = amax / 127), or
// within one step for Q4_0 (d = max / -8: the grid runs from -8d to 7d, so values near -max
// are clipped to 7d, up to one step away).
TEST_P(QuantBlocks, RoundTripErrorIsHalfAStep) {
  const DType type = GetParam();
  const int64_t n = 32 * 40;
  const std::vector<float> x = normal_floats(static_cast<size_t>(n), 7);
  const std::vector<unsigned char> q = quantize(type, x, n);
  std::vector<float> y(static_cast<size_t>(n));  // [n]
  dequantize_blocks(type, q.data(), n, y.data());
  for (int64_t b = 0; b < n / 32; ++b) {
    uint16_t dh;
    std::memcpy(&dh, q.data() + b * static_cast<int64_t>(dtype_block_bytes(type)), 2);
    const double d = std::fabs(static_cast<double>(f16_to_f32(dh)));
    ASSERT_GT(d, 0.0);
    for (int64_t i = b * 32; i < (b + 1) * 32; ++i) {
      // The f16 rounding of d moves the grid by up to 2^-11 relative, on q up to 127.
      const double step_error = (type == DType::kQ4_0 ? 1.0 : 0.5) * d + 128.0 * d * 0x1p-11;
      EXPECT_LE(
          std::fabs(static_cast<double>(y[static_cast<size_t>(i)]) - x[static_cast<size_t>(i)]),
          step_error)
          << "element " << i;
    }
  }
}

// A row that is not whole blocks quantizes as the same row padded with zeros.
TEST_P(QuantBlocks, PartialRowIsPaddedWithZeros) {
  const DType type = GetParam();
  const int64_t n = 32 * 3 + 7;
  std::vector<float> x = normal_floats(static_cast<size_t>(n), 3);
  const std::vector<unsigned char> got = quantize(type, x, n);
  x.resize(32 * 4, 0.0f);
  EXPECT_EQ(got, quantize(type, x, 32 * 4));
}

// Packing GGUF blocks and packing the f32 rows they came from give the same bytes, and every
// element reads back as its dequantized value.
TEST_P(QuantBlocks, PackedWeightHoldsEveryElement) {
  const DType type = GetParam();
  const int64_t n = 37, k = 96;  // a ragged last panel
  const std::vector<float> w = normal_floats(static_cast<size_t>(n * k), 11);
  std::vector<unsigned char> rows;  // [n][k / 32 blocks]
  for (int64_t r = 0; r < n; ++r) {
    const std::vector<float> row(w.begin() + r * k, w.begin() + (r + 1) * k);
    const std::vector<unsigned char> q = quantize(type, row, k);
    rows.insert(rows.end(), q.begin(), q.end());
  }
  const size_t bytes = quant_packed_bytes(n, k, type);
  std::vector<unsigned char> from_blocks(bytes, 0xaa), from_f32(bytes, 0x55);
  const int64_t panels = (n + kPanel - 1) / kPanel;
  pack_quant_weight_blocks(rows.data(), n, k, type, from_blocks.data(), 0, panels);
  // Two disjoint ranges, as two threads would pack them.
  pack_quant_weight_f32(w.data(), n, k, type, from_f32.data(), 1, panels);
  pack_quant_weight_f32(w.data(), n, k, type, from_f32.data(), 0, 1);
  EXPECT_EQ(from_blocks, from_f32);
  EXPECT_EQ(bytes * 32, static_cast<size_t>(panels * kPanel * k) * dtype_block_bytes(type));

  std::vector<float> deq(static_cast<size_t>(n * k));  // [n][k]
  dequantize_blocks(type, rows.data(), n * k, deq.data());
  const QuantPackedWeight pw{from_blocks.data(), type, n, k};
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      ASSERT_EQ(quant_weight_at(pw, r, c), deq[static_cast<size_t>(r * k + c)]) << r << "," << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantBlocks, ::testing::Values(DType::kQ8_0, DType::kQ4_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// The f16 decoder kernels/quant_decode.h shares with the CUDA kernels gives cpu::f16_to_f32's
// bits for every one of the 65536 halves (NaN payloads, subnormals and signed zeros included).
TEST(QuantBlocks, SharedF16DecodeIsTheCpuOneForEveryHalf) {
  for (uint32_t h = 0; h <= 0xffffu; ++h) {
    const float shared = quant::f16_bits_to_f32(static_cast<uint16_t>(h));
    const float cpu = f16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(0, std::memcmp(&shared, &cpu, sizeof cpu)) << "f16 bits 0x" << std::hex << h;
  }
}

TEST(QuantBlocks, UnsupportedTypesAreRefused) {
  float x[32] = {};
  unsigned char out[256];
  EXPECT_THROW(quantize_row(DType::kQ4_K, x, 32, out), std::invalid_argument);
  EXPECT_THROW(dequantize_blocks(DType::kF32, out, 1, x), std::invalid_argument);
  EXPECT_THROW(quant_packed_bytes(16, 32, DType::kBF16), std::invalid_argument);
  EXPECT_THROW(quant_packed_bytes(16, 32, DType::kQ6_K), std::invalid_argument);  // k % 256
  EXPECT_THROW(pack_quant_weight_f32(x, 1, 256, DType::kQ4_K, out, 0, 1), std::invalid_argument);
  EXPECT_THROW(pack_quant_weight_blocks(out, 1, 33, DType::kQ8_0, out, 0, 1),
               std::invalid_argument);
}

}  // namespace
}  // namespace llm::cpu
