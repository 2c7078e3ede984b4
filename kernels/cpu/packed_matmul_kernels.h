// Internal: the per-ISA tile kernels behind matmul_packed. One implementation per instruction
// set, each computing the same chains (see packed_matmul.h).
#pragma once

#include <cstdint>

#include "kernels/cpu/packed_matmul.h"

namespace llm::cpu::detail {

void matmul_packed_portable(const float* x, int64_t ldx, int64_t T, const PackedWeight& w,
                            int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo);

// Requires AVX2 and FMA (and F16C for f16 weights); the caller checks.
void matmul_packed_avx2(const float* x, int64_t ldx, int64_t T, const PackedWeight& w,
                        int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo);

// The AVX-512 kernels (packed_matmul_avx512.cpp), once as instructions (avx512_native: needs
// AVX-512 F/BW/VL, and BF16 for the pair kernel; the caller checks) and once emulated by SIMDe
// (avx512_simde: runs anywhere, slowly; for tests). matmul_f32 takes f32 k-major weights,
// matmul_bf16_pairs bf16 pair-layout weights and activations from to_bf16_pairs (which is
// cpu::to_bf16_pairs on 16 lanes at a time).
#define LLM_DECLARE_AVX512_KERNELS(ns)                                                       \
  namespace ns {                                                                             \
  void to_bf16_pairs(const float* x, int64_t ldx, int64_t T, int64_t K, uint32_t* xp);          \
  void matmul_f32(const float* x, int64_t ldx, int64_t T, const PackedWeight& w, int64_t pb, \
                  int64_t pe, float* out, int64_t ldo);                                      \
  void matmul_bf16_pairs(const uint32_t* xp, int64_t ldxp, int64_t T, const PackedWeight& w, \
                         int64_t pb, int64_t pe, float* out, int64_t ldo);                   \
  }
LLM_DECLARE_AVX512_KERNELS(avx512_native)
LLM_DECLARE_AVX512_KERNELS(avx512_simde)
#undef LLM_DECLARE_AVX512_KERNELS

}  // namespace llm::cpu::detail
