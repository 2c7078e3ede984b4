// Element types of tensors in checkpoints, on backends and in the KV cache.
//
// Float and integer types hold one element per dtype_size() bytes. The block-quantized types
// (GGUF's, bit for bit: ggml-common.h's block_q8_0 and friends) hold dtype_block_elems()
// elements in dtype_block_bytes() bytes, blocks running along a row's last dimension, so a row
// of n elements is dtype_row_bytes(t, n) bytes and n must be a multiple of the block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llm {

enum class DType : uint8_t { kF32, kBF16, kF16, kI32, kQ8_0, kQ4_0, kQ4_1, kQ4_K, kQ5_K, kQ6_K };

inline constexpr DType kAllDTypes[] = {DType::kF32,  DType::kBF16, DType::kF16,
                                       DType::kI32,  DType::kQ8_0, DType::kQ4_0,
                                       DType::kQ4_1, DType::kQ4_K, DType::kQ5_K,
                                       DType::kQ6_K};

constexpr bool dtype_is_quantized(DType t) {
  return t >= DType::kQ8_0;
}

// Elements per block: 1 for plain types, 32 or 256 for the quantized ones.
constexpr int64_t dtype_block_elems(DType t) {
  switch (t) {
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_1:
      return 32;
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return 256;
    default:
      return 1;
  }
}

// Bytes per block (per element for the plain types).
constexpr size_t dtype_block_bytes(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kBF16:
    case DType::kF16:
      return 2;
    case DType::kQ8_0:
      return 34;  // f16 d, int8 q[32]
    case DType::kQ4_0:
      return 18;  // f16 d, nibbles q[16]
    case DType::kQ4_1:
      return 20;  // f16 d, f16 m, nibbles q[16]
    case DType::kQ4_K:
      return 144;  // f16 d, f16 dmin, 6-bit scales[12], nibbles q[128]
    case DType::kQ5_K:
      return 176;  // f16 d, f16 dmin, scales[12], high bits qh[32], nibbles q[128]
    case DType::kQ6_K:
      return 210;  // low nibbles ql[128], high bits qh[64], int8 scales[16], f16 d
  }
  return 0;
}

// Bytes per element of a plain type; 0 for a quantized one (use dtype_row_bytes).
constexpr size_t dtype_size(DType t) {
  return dtype_is_quantized(t) ? 0 : dtype_block_bytes(t);
}

// Bytes of a row of n elements (n a multiple of dtype_block_elems(t)).
constexpr size_t dtype_row_bytes(DType t, int64_t n) {
  return static_cast<size_t>(n / dtype_block_elems(t)) * dtype_block_bytes(t);
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kBF16:
      return "bf16";
    case DType::kF16:
      return "f16";
    case DType::kI32:
      return "i32";
    case DType::kQ8_0:
      return "q8_0";
    case DType::kQ4_0:
      return "q4_0";
    case DType::kQ4_1:
      return "q4_1";
    case DType::kQ4_K:
      return "q4_k";
    case DType::kQ5_K:
      return "q5_k";
    case DType::kQ6_K:
      return "q6_k";
  }
  return "?";
}

// "f32" | "bf16" | "f16" | "i32" | "q8_0" | ... -> the type; anything else -> nullopt.
constexpr std::optional<DType> dtype_from_name(std::string_view name) {
  for (DType t : kAllDTypes) {
    if (dtype_name(t) == name) return t;
  }
  return std::nullopt;
}

}  // namespace llm
