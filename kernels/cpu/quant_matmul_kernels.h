// Internal: the per-ISA kernels behind matmul_quant, each computing the chains of
// quant_matmul.h. They take plain pointers (no std::vector, no inline member functions), so the
// AVX-512 file calls no inline function of another header.
#pragma once

#include <cstdint>

namespace llm::cpu::detail {

// The weight types of the packed layouts (quant_matmul.h).
enum class QuantKind : uint8_t { kQ8_0, kQ4_0, kQ4_1, kQ4_K, kQ5_K, kQ6_K };

// The operands of one matmul_quant call.
struct QuantArgs {
  const int8_t* aq;       // [T][blocks * 32] quantized activations
  const float* ad;        // [T][blocks] activation scales
  const int32_t* asum;    // [T][blocks] activation block sums
  const int32_t* asum16;  // [T][blocks * 2] sums of each block's two halves of 16
  int64_t T;
  int64_t blocks;    // per row
  const uint8_t* w;  // packed weight (quant_matmul.h's layout)
  int64_t n;         // output features
  QuantKind kind;
  int64_t panel_begin, panel_end;
  float* out;  // [T][ldo]
  int64_t ldo;
};

inline constexpr bool is_kquant(QuantKind k) {
  return k == QuantKind::kQ4_K || k == QuantKind::kQ5_K || k == QuantKind::kQ6_K;
}

// Bytes of one block of a panel's quants: 16 rows x 32 weights, at 8 or 4 bits.
inline constexpr int64_t kQ8PanelBlock = 512;
inline constexpr int64_t kQ4PanelBlock = 256;
// Bytes of a block's scales in a panel: 16 f16 d; Q4_1's 16 f16 d then 16 f16 m.
inline constexpr int64_t kPanelScales = 32;
inline constexpr int64_t kQ41PanelScales = 64;

// K-quant panels, per super-block of 256 columns (quant_matmul.h): a header of 16 f32 d (and 16
// f32 dmin), then 8 blocks of 32 columns, each 32 int8 scales, 256 bytes of nibbles and the
// high-bit plane (Q5_K: 64 bytes, Q6_K: 128).
template <QuantKind K>
inline constexpr int64_t kKHighBytes = K == QuantKind::kQ5_K   ? 64
                                       : K == QuantKind::kQ6_K ? 128
                                                               : 0;
template <QuantKind K>
inline constexpr int64_t kKBlockBytes = 32 + 256 + kKHighBytes<K>;
template <QuantKind K>
inline constexpr int64_t kKHeaderBytes = K == QuantKind::kQ6_K ? 64 : 128;
template <QuantKind K>
inline constexpr int64_t kKSuperBytes = kKHeaderBytes<K> + 8 * kKBlockBytes<K>;

// One row x [K] of activations quantized: q [ceil(K/32) * 32] (zero past K), d and sums
// [ceil(K/32)]. The AVX2 one gives the same bytes (needs AVX2; the caller checks).
void quantize_row_q8_portable(const float* x, int64_t K, int8_t* q, float* d, int32_t* sums);
void quantize_row_q8_avx2(const float* x, int64_t K, int8_t* q, float* d, int32_t* sums);

// Each takes every kind (the K-quants go to the matmul_kquant_* below).
void matmul_quant_portable(const QuantArgs& a);
// Requires AVX2, FMA and F16C; the caller checks.
void matmul_quant_avx2(const QuantArgs& a);

// The K-quant kernels (quant_matmul_kquant*.cpp).
void matmul_kquant_portable(const QuantArgs& a);
void matmul_kquant_avx2(const QuantArgs& a);

// quant_matmul_avx512.cpp, as instructions (needs AVX-512 F/BW/VL and VNNI; the caller checks)
// and emulated by SIMDe (runs anywhere, slowly; for tests).
namespace avx512_native {
void matmul_quant(const QuantArgs& a);
void matmul_kquant(const QuantArgs& a);
}  // namespace avx512_native
namespace avx512_simde {
void matmul_quant(const QuantArgs& a);
void matmul_kquant(const QuantArgs& a);
}  // namespace avx512_simde

}  // namespace llm::cpu::detail
