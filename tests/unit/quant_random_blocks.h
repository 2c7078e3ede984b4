// Random but valid GGUF blocks of any quantized type, for tests of code that reads them (gguf
// cannot quantize the K-quants, and random blocks reach corners a quantizer never writes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/quant_blocks.h"
#include "llm/dtype.h"

namespace llm::cpu::test {

// Byte offsets of a block's f16 fields: d (and dmin, or Q4_1's m).
inline std::vector<int> f16_fields(DType type) {
  if (type == DType::kQ6_K) return {offsetof(BlockQ6_K, d)};
  return {0, 2};
}

// n rows of random blocks: random bytes, with finite f16 scales of either sign
// from 2^-8 to 1, an eighth of them subnormal or zero.
inline std::vector<unsigned char> random_rows(DType type, int64_t n, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<unsigned char> bytes(dtype_row_bytes(type, k) * static_cast<size_t>(n));  // [n][row]
  for (unsigned char& b : bytes) b = static_cast<unsigned char>(rng());
  const size_t block = dtype_block_bytes(type);
  for (size_t at = 0; at < bytes.size(); at += block) {
    for (const int off : f16_fields(type)) {
      const uint64_t r = rng();
      const uint16_t exponent = r % 8 == 0 ? 0 : static_cast<uint16_t>(7 + (r >> 3) % 8);
      const auto h = static_cast<uint16_t>(((r >> 8) & 0x83ff) | (exponent << 10));
      std::memcpy(&bytes[at + static_cast<size_t>(off)], &h, 2);
    }
  }
  return bytes;
}

// n floats from N(0, 1): fresh inputs for the quantizers and the matmuls.
inline std::vector<float> normal_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

}  // namespace llm::cpu::test
