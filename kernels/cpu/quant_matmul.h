// Matrix products against block-quantized weights (Q8_0, Q4_0): out[T, N] = x[T, K] . W[N, K]^T.
//
// The activations are quantized per 32-element block as ggml's quantize_row_q8_0 does (d_a =
// amax / 127, q = round(x / d_a) through the reciprocal, half away from zero), but d_a is kept in
// f32. Each block's product is an exact integer, isum = sum_k w_q[k] * a_q[k], and each output
// element is one chain over the blocks b = 0, 1, ... of
//     acc = fma(float(isum_b), d_w[b] * d_a[b], acc)        (d_w * d_a rounded to f32; acc = 0)
// in every kernel (portable, AVX2, AVX-512 VNNI, AVX-512 emulated by SIMDe): they agree bit for
// bit, and a row's result depends neither on T nor on how the panels are split between threads.
//
// Packed layout: panels of kPanel = 16 output rows, K padded with zeros to whole blocks (kb =
// ceil(K / 32) blocks). Panel p is kb * (Q + 32) bytes: the quants of its kb blocks, Q bytes each,
// then kb groups of 16 f16 scales (row n % 16's d at index n % 16). Per block:
//   Q8_0 (Q = 512): 8 groups of 64 bytes; group g holds, for row r, bytes 4r..4r+3 = w[4g..4g+3]
//        + 128 (as u8), so one 512-bit load is vpdpbusd's unsigned operand for 16 rows.
//   Q4_0 (Q = 256): 4 groups of 64 bytes; byte 4r + j of group g is GGUF's qs[4g + j] of row r:
//        its low nibble is w[4g + j] + 8, its high nibble w[16 + 4g + j] + 8.
// The offsets (+128, +8) make the weights unsigned; the kernels subtract 128 (or 8) times the
// block's activation sum, which quantize_activations stores. The bytes per weight stay GGUF's
// (34/32, 18/32): decode streams the weights once and is bound by memory bandwidth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cpu/packed_matmul.h"
#include "kernels/cpu/quant_blocks.h"
#include "llm/dtype.h"

namespace llm::cpu {

struct QuantPackedWeight {
  const void* data = nullptr;  // [num_panels()][panel bytes], see above
  DType type = DType::kQ8_0;   // kQ8_0 or kQ4_0
  int64_t n = 0;               // output features (rows of W)
  int64_t k = 0;               // input features
  int64_t num_panels() const { return (n + kPanel - 1) / kPanel; }
  int64_t blocks() const { return quant_blocks_for(k); }
};

// Activations quantized for matmul_quant; quantize_activations sizes the buffers (they only
// grow, so one object can be reused across calls).
struct QuantizedActivations {
  int64_t T = 0;              // rows
  int64_t k = 0;              // elements per row before padding
  int64_t blocks = 0;         // ceil(k / 32)
  std::vector<int8_t> q;      // [T][blocks * 32], zero past k
  std::vector<float> d;       // [T][blocks]: the scales d_a
  std::vector<int32_t> sums;  // [T][blocks]: sum of the block's 32 q
};

// Whether matmul_quant takes weights of this type (Q8_0, Q4_0).
bool quant_matmul_supports(DType type);

// Bytes of the packed weight of n rows and k columns of `type`.
size_t quant_packed_bytes(int64_t n, int64_t k, DType type);

// Packs panels [panel_begin, panel_end) from GGUF's row-major blocks (n rows of k / 32 blocks; k
// a multiple of 32), exactly: no value changes. Threads may pack disjoint panel ranges at once;
// a ragged last panel's missing rows are written as zeros.
void pack_quant_weight_blocks(const void* gguf_rows, int64_t n, int64_t k, DType type, void* dst,
                              int64_t panel_begin, int64_t panel_end);

// The same from f32 rows [n, k] (any k: rows are padded with zeros to whole blocks), quantized
// as quantize_row does (gguf.quants.quantize's bytes).
void pack_quant_weight_f32(const float* rows, int64_t n, int64_t k, DType type, void* dst,
                           int64_t panel_begin, int64_t panel_end);

// Quantizes x [T, K] (row stride ldx) into out.
void quantize_activations(const float* x, int64_t ldx, int64_t T, int64_t K,
                          QuantizedActivations& out);

// out[t, n] for all x.T rows t and the output columns of panels [panel_begin, panel_end); out
// rows have stride ldo. x.k must equal w.k. The kernel follows the active ISA (cpu_isa()).
void matmul_quant(const QuantizedActivations& x, const QuantPackedWeight& w, int64_t panel_begin,
                  int64_t panel_end, float* out, int64_t ldo);

// Element (row, col) of a packed weight, dequantized (d * q, as GGUF's dequantization).
float quant_weight_at(const QuantPackedWeight& w, int64_t row, int64_t col);

// The kernel matmul_quant runs for `type` now, e.g. "avx512_vnni vpdpbusd", for reports.
const char* quant_matmul_kernel_name(DType type);

}  // namespace llm::cpu
