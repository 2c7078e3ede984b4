// Reading GGUF metadata scalars from the file's bytes: shared by the parser (gguf_file.cpp) and
// the typed getters (gguf_metadata.cpp), internal to the engine.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "engine/model/gguf_file.h"

namespace llm::gguf_detail {

// Bytes of one scalar of a metadata type; 0 for string and array.
inline size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kBool:
      return 1;
    case GgufType::kU16:
    case GgufType::kI16:
      return 2;
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kF32:
      return 4;
    case GgufType::kU64:
    case GgufType::kI64:
    case GgufType::kF64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

inline bool is_integer_type(GgufType t) {
  return scalar_size(t) > 0 && t != GgufType::kF32 && t != GgufType::kF64;
}

// Little-endian on disk, whatever the host.
inline uint64_t load_le(const std::byte* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// One scalar of type `t` at `p`, widened: integers (and bool as 0/1) into int64, floats into
// double. u64 values above INT64_MAX come back as negative; the parser refuses them first.
inline int64_t decode_integer(GgufType t, const std::byte* p) {
  const uint64_t v = load_le(p, scalar_size(t));
  switch (t) {
    case GgufType::kI8:
      return static_cast<int8_t>(v);
    case GgufType::kI16:
      return static_cast<int16_t>(v);
    case GgufType::kI32:
      return static_cast<int32_t>(v);
    case GgufType::kBool:
      return v != 0 ? 1 : 0;
    default:
      return static_cast<int64_t>(v);
  }
}

inline double decode_number(GgufType t, const std::byte* p) {
  if (t == GgufType::kF32) return std::bit_cast<float>(static_cast<uint32_t>(load_le(p, 4)));
  if (t == GgufType::kF64) return std::bit_cast<double>(load_le(p, 8));
  return static_cast<double>(decode_integer(t, p));
}

}  // namespace llm::gguf_detail
