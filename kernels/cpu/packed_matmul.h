// Matrix products against weights repacked for the CPU: out[T, N] = x[T, K] . W[N, K]^T.
//
// Packed layout: W is cut into panels of kPanel = 16 output rows; a panel stores its 16 rows
// k-major, element (n, k) at panel n / 16, offset k * 16 + n % 16; rows past N are zero. One
// k-step of the kernel then reads 16 contiguous weights and broadcasts one x value per row.
//
// Pair layout (bf16 only, for AVX-512 BF16's dot product): a panel stores ceil(K/2) pairs of
// k-steps, element (n, k) at offset (k / 2) * 32 + (n % 16) * 2 + k % 2; an odd K pads the last
// pair with zero. The kernel rounds the activations to bf16 and adds two k terms per instruction,
// as llama.cpp and PyTorch's bf16 kernels do; the k-major kernels keep activations in f32.
//
// Every output element is one sequential chain over k (of fused multiply-adds, or of pair dot
// products) whatever the tile it falls in, so a row's result never depends on how many rows share
// the step (batch invariance) or on how the panels are split between threads.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llm::cpu {

enum class WeightType { kF32, kBF16, kF16 };
enum class PackedLayout { kKMajor, kBf16Pairs };

inline constexpr int kPanel = 16;

inline size_t weight_type_size(WeightType t) {
  return t == WeightType::kF32 ? 4 : 2;
}

struct PackedWeight {
  const void* data = nullptr;  // [ceil(n / 16), k, 16] of `type`
  WeightType type = WeightType::kF32;
  int64_t n = 0;  // output features (rows of the original W)
  int64_t k = 0;  // input features
  PackedLayout layout = PackedLayout::kKMajor;
  int64_t num_panels() const { return (n + kPanel - 1) / kPanel; }
};

size_t packed_weight_bytes(int64_t n, int64_t k, WeightType type,
                           PackedLayout layout = PackedLayout::kKMajor);

// The layout whose kernel is fastest for `type` under the active ISA (cpu_isa()): bf16 pairs
// where AVX-512 BF16 is in use, k-major otherwise.
PackedLayout preferred_layout(WeightType type);

// Repacks row-major src [n, k] (elements already of `type`) into dst (packed_weight_bytes long).
// kBf16Pairs needs type kBF16.
void pack_weight(const void* src, int64_t n, int64_t k, WeightType type, void* dst,
                 PackedLayout layout = PackedLayout::kKMajor);
// The same for panels [panel_begin, panel_end) only, into a dst already zeroed (the padding of
// the last panel and pair stays zero): threads may pack disjoint panel ranges at once.
void pack_weight_panels(const void* src, int64_t n, int64_t k, WeightType type, void* dst,
                        PackedLayout layout, int64_t panel_begin, int64_t panel_end);

// Reads back element (row, col) of a packed weight as float (tests and debugging).
float packed_weight_at(const PackedWeight& w, int64_t row, int64_t col);

// out[t, n] for t < T and the output columns of panels [panel_begin, panel_end).
// x rows have stride ldx, out rows stride ldo (floats). The kernel follows the active ISA
// (cpu_isa()) and the weight's layout; a pair-layout weight runs the AVX-512 BF16 kernel, emulated
// through SIMDe (slowly) where the processor lacks it.
void matmul_packed(const float* x, int64_t ldx, int64_t T, const PackedWeight& w,
                   int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo);

// The same for a pair-layout weight on activations already rounded by to_bf16_pairs (xp [T,
// ceil(K/2)]), so that a caller splitting the panels between threads converts x once.
void matmul_packed_pairs(const uint32_t* xp, int64_t T, const PackedWeight& w,
                         int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo);

// Rounds x [T, K] (row stride ldx) to bf16 and stores it as pairs: xp[t * ceil(K/2) + j] holds
// x[t][2j] in its low and x[t][2j+1] in its high half (zero past K): the pair kernels' operand.
void to_bf16_pairs(const float* x, int64_t ldx, int64_t T, int64_t K, uint32_t* xp);

// The kernel matmul_packed runs for weights of `type` in `layout` now, e.g. "avx512_bf16
// vdpbf16ps", for logs and benchmark reports.
const char* matmul_kernel_name(WeightType type, PackedLayout layout);

}  // namespace llm::cpu
