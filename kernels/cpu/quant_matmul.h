// Matrix products against block-quantized weights (Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K):
// out[T, N] = x[T, K] . W[N, K]^T.
//
// The activations are quantized per 32-element block as ggml's quantize_row_q8_0 does (d_a =
// amax / 127, q = round(x / d_a) through the reciprocal, half away from zero), but d_a is kept in
// f32. Each block's products are exact integers, and each output element is one chain over the
// blocks b = 0, 1, ... (acc = 0; every product of scales rounded to f32, then each fma once):
//   Q8_0, Q4_0: acc = fma(float(isum_b), d_w * d_a, acc)          isum_b = sum_k w_q[k] a_q[k]
//   Q4_1:       the same with q the nibble, then acc = fma(float(asum_b), m * d_a, acc)
//   Q4_K, Q5_K: acc = fma(float(isum_b), (d * sc) * d_a, acc)     isum_b = sum_k q[k] a_q[k]
//               acc = fma(float(-asum_b), (dmin * mn) * d_a, acc) asum_b = sum_k a_q[k]
//   Q6_K:       acc = fma(float(isum_lo), (d * sc_lo) * d_a, acc), then the same for hi, where
//               isum_h = sum over the half's 16 k of (q[k] - 32) a_q[k]
// in every kernel (portable, AVX2, AVX-512 VNNI, AVX-512 emulated by SIMDe): they agree bit for
// bit, and a row's result depends neither on T nor on how the panels are split between threads.
// The K-quants' d * sc and dmin * mn are exact in f32 (an f16 times a 6- or 8-bit integer), so
// the chain is GGUF's dequantized weight times the quantized activations, up to the f32 rounding
// of the chain (and of GGUF's own d * q + m for Q4_1, Q4_K and Q5_K).
//
// Packed layout: panels of kPanel = 16 output rows. Q8_0, Q4_0 and Q4_1 pad K with zeros to
// whole blocks (kb = ceil(K / 32) blocks); panel p is kb * (Q + S) bytes: the quants of its kb
// blocks, Q bytes each, then kb groups of S = 32 bytes, 16 f16 scales (row n % 16's d at index
// n % 16; Q4_1: S = 64, then its 16 f16 m). Per block:
//   Q8_0 (Q = 512): 8 groups of 64 bytes; group g holds, for row r, bytes 4r..4r+3 = w[4g..4g+3]
//        + 128 (as u8), so one 512-bit load is vpdpbusd's unsigned operand for 16 rows.
//   Q4_0 (Q = 256): 4 groups of 64 bytes; byte 4r + j of group g is GGUF's qs[4g + j] of row r:
//        its low nibble is w[4g + j] + 8, its high nibble w[16 + 4g + j] + 8. Q4_1 alike.
// The offsets (+128, +8) make the weights unsigned; the kernels subtract 128 (or 8) times the
// block's activation sum, which quantize_activations stores. The bytes per weight stay GGUF's
// (34/32, 18/32, 20/32): decode streams the weights once and is bound by memory bandwidth.
//
// K-quant panels (K a multiple of 256, as GGUF's K-quant rows are) are K / 256 super-blocks, each
//   a header: 16 f32 d (row r's at index r), then for Q4_K/Q5_K 16 f32 dmin;
//   8 blocks of 32 columns, each:
//     16 int8 sc (Q6_K: the scales of columns 0..15), 16 int8 mn (Q6_K: those of 16..31);
//     256 bytes of nibbles laid out as Q4_0's: byte 4r + j of group g holds the low 4 bits of
//       q[4g + j] (low nibble) and of q[16 + 4g + j] (high nibble), q unsigned (Q6_K's q - 32
//       is the kernels' business);
//     the high bits: Q5_K 64 bytes, bit t of byte 4r + j the fifth bit of q[4t + j]; Q6_K two
//       vectors of 64 bytes, bits 2t..2t+1 of vector v's byte 4r + j bits 4..5 of q[16v + 4t + j].
// Bytes per weight: Q4_K 0.59 (GGUF 0.5625), Q5_K 0.72 (0.6875), Q6_K 0.83 (0.8203).
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
  DType type = DType::kQ8_0;   // one of quant_matmul_supports' types
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
  std::vector<int32_t> sums16;  // [T][blocks * 2]: sums of its two halves of 16 q
};

// Whether matmul_quant takes weights of this type (Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K).
bool quant_matmul_supports(DType type);

// Bytes of the packed weight of n rows and k columns of `type`.
size_t quant_packed_bytes(int64_t n, int64_t k, DType type);

// Packs panels [panel_begin, panel_end) from GGUF's row-major blocks (n rows of k / 32 blocks, or
// k / 256 super-blocks; k a multiple of 32, or 256 for the K-quants), exactly: no value changes.
// Threads may pack disjoint panel ranges at once; a ragged last panel's missing rows are written as
// zeros.
void pack_quant_weight_blocks(const void* gguf_rows, int64_t n, int64_t k, DType type, void* dst,
                              int64_t panel_begin, int64_t panel_end);

// The same from f32 rows [n, k] (any k: rows are padded with zeros to whole blocks), quantized
// as quantize_row does (gguf.quants.quantize's bytes). Q8_0 and Q4_0 only.
void pack_quant_weight_f32(const float* rows, int64_t n, int64_t k, DType type, void* dst,
                           int64_t panel_begin, int64_t panel_end);

// Quantizes x [T, K] (row stride ldx) into out.
void quantize_activations(const float* x, int64_t ldx, int64_t T, int64_t K,
                          QuantizedActivations& out);

// out[t, n] for all x.T rows t and the output columns of panels [panel_begin, panel_end); out
// rows have stride ldo. x.k must equal w.k. The kernel follows the active ISA (cpu_isa()).
void matmul_quant(const QuantizedActivations& x, const QuantPackedWeight& w, int64_t panel_begin,
                  int64_t panel_end, float* out, int64_t ldo);

// Element (row, col) of a packed weight, dequantized as GGUF dequantizes it (the same f32).
float quant_weight_at(const QuantPackedWeight& w, int64_t row, int64_t col);

// The kernel matmul_quant runs for `type` now, e.g. "avx512_vnni vpdpbusd", for reports.
const char* quant_matmul_kernel_name(DType type);

}  // namespace llm::cpu
