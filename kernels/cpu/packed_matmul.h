// Matrix products against weights repacked for the CPU: out[T, N] = x[T, K] . W[N, K]^T.
//
// Packed layout: W is cut into panels of kPanel = 16 output rows; a panel stores its 16 rows
// k-major, element (n, k) at panel n / 16, offset k * 16 + n % 16; rows past N are zero. One
// k-step of the kernel then reads 16 contiguous weights and broadcasts one x value per row.
//
// Every output element is one sequential chain of fused multiply-adds over k = 0..K-1 whatever
// the tile it falls in, so a row's result never depends on how many rows share the step (batch
// invariance) or on how the panels are split between threads.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llm::cpu {

enum class WeightType { kF32, kBF16, kF16 };

inline constexpr int kPanel = 16;

inline size_t weight_type_size(WeightType t) {
  return t == WeightType::kF32 ? 4 : 2;
}

struct PackedWeight {
  const void* data = nullptr;  // [ceil(n / 16), k, 16] of `type`
  WeightType type = WeightType::kF32;
  int64_t n = 0;  // output features (rows of the original W)
  int64_t k = 0;  // input features
  int64_t num_panels() const { return (n + kPanel - 1) / kPanel; }
};

size_t packed_weight_bytes(int64_t n, int64_t k, WeightType type);

// Repacks row-major src [n, k] (elements already of `type`) into dst (packed_weight_bytes long).
void pack_weight(const void* src, int64_t n, int64_t k, WeightType type, void* dst);

// Reads back element (row, col) of a packed weight as float (tests and debugging).
float packed_weight_at(const PackedWeight& w, int64_t row, int64_t col);

// out[t, n] for t < T and the output columns of panels [panel_begin, panel_end).
// x rows have stride ldx, out rows stride ldo (floats).
void matmul_packed(const float* x, int64_t ldx, int64_t T, const PackedWeight& w,
                   int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo);

}  // namespace llm::cpu
