// Element types of tensors in checkpoints, on backends and in the KV cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llm {

enum class DType : uint8_t { kF32, kBF16, kF16, kI32 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kBF16:
    case DType::kF16:
      return 2;
  }
  return 0;
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
  }
  return "?";
}

// "f32" | "bf16" | "f16" | "i32" -> the type; anything else -> nullopt.
constexpr std::optional<DType> dtype_from_name(std::string_view name) {
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16, DType::kI32}) {
    if (dtype_name(t) == name) return t;
  }
  return std::nullopt;
}

}  // namespace llm
