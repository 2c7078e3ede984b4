// Internal: the per-ISA tile kernels behind matmul_packed. One implementation per instruction
// set, each computing the same chains of fused multiply-adds (see packed_matmul.h).
#pragma once

#include "kernels/cpu/packed_matmul.h"

namespace llm::cpu::detail {

void matmul_packed_portable(const float* x, int64_t ldx, int64_t T, const PackedWeight& w,
                            int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo);

// Requires AVX2 and FMA (and F16C for f16 weights); the caller checks.
void matmul_packed_avx2(const float* x, int64_t ldx, int64_t T, const PackedWeight& w,
                        int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo);

}  // namespace llm::cpu::detail
