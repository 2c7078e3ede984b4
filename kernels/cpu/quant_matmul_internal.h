// Internal: the K-quant half of quant_matmul.cpp's bookkeeping (quant_matmul_kquant.cpp).
#pragma once

#include <cstdint>

#include "kernels/cpu/quant_matmul.h"
#include "kernels/cpu/quant_matmul_kernels.h"
#include "llm/dtype.h"

namespace llm::cpu::detail {

// The kernels' kind of a weight type; throws for a type matmul_quant does not take.
QuantKind quant_kind(DType type);

// The kernels' operands for matmul_quant(x, w, pb, pe, out, ldo), built in one place for the
// dispatcher and the tests that call each kernel directly.
QuantArgs quant_args(const QuantizedActivations& x, const QuantPackedWeight& w, int64_t pb,
                     int64_t pe, float* out, int64_t ldo);

// Bytes of one K-quant panel of k columns (k a multiple of 256).
int64_t kquant_panel_bytes(QuantKind kind, int64_t k);

// Writes row r (0..15) of a zeroed K-quant panel from the row's k / 256 GGUF super-blocks.
void pack_kquant_row(QuantKind kind, DType type, const unsigned char* row, int64_t k,
                     unsigned char* panel, int r);

// Element (row, col) of a packed K-quant weight of k columns, as dequantize_blocks gives it.
float kquant_weight_at(QuantKind kind, const void* data, int64_t k, int64_t row, int64_t col);

}  // namespace llm::cpu::detail
