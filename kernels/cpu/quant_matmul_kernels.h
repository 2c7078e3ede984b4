// Internal: the per-ISA kernels behind matmul_quant, each computing the chains of
// quant_matmul.h. They take plain pointers (no std::vector, no inline member functions), so the
// AVX-512 file calls no inline function of another header.
#pragma once

#include <cstdint>

namespace llm::cpu::detail {

// The operands of one matmul_quant call.
struct QuantArgs {
  const int8_t* aq;     // [T][blocks * 32] quantized activations
  const float* ad;      // [T][blocks] activation scales
  const int32_t* asum;  // [T][blocks] activation block sums
  int64_t T;
  int64_t blocks;    // per row
  const uint8_t* w;  // packed weight (quant_matmul.h's layout)
  int64_t n;         // output features
  bool q4;           // Q4_0 panels (else Q8_0)
  int64_t panel_begin, panel_end;
  float* out;  // [T][ldo]
  int64_t ldo;
};

// Bytes of one block of a panel's quants: 16 rows x 32 weights, at 8 or 4 bits.
inline constexpr int64_t kQ8PanelBlock = 512;
inline constexpr int64_t kQ4PanelBlock = 256;

// One row x [K] of activations quantized: q [ceil(K/32) * 32] (zero past K), d and sums
// [ceil(K/32)]. The AVX2 one gives the same bytes (needs AVX2; the caller checks).
void quantize_row_q8_portable(const float* x, int64_t K, int8_t* q, float* d, int32_t* sums);
void quantize_row_q8_avx2(const float* x, int64_t K, int8_t* q, float* d, int32_t* sums);

void matmul_quant_portable(const QuantArgs& a);
// Requires AVX2, FMA and F16C; the caller checks.
void matmul_quant_avx2(const QuantArgs& a);

// quant_matmul_avx512.cpp, as instructions (needs AVX-512 F/BW/VL and VNNI; the caller checks)
// and emulated by SIMDe (runs anywhere, slowly; for tests).
namespace avx512_native {
void matmul_quant(const QuantArgs& a);
}
namespace avx512_simde {
void matmul_quant(const QuantArgs& a);
}

}  // namespace llm::cpu::detail
