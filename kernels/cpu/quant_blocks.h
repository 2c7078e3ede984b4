// GGUF's block-quantized formats, byte for byte (ggml-common.h's block_q8_0 and friends), and
// their conversions to and from f32.
//
// Dequantization (kernels/quant_decode.h's formulas) repeats the float operations of the python
// `gguf` package (gguf.quants.dequantize) in its order, so it returns the same bits: e.g. Q4_K's
// element is (d * sc) * q - (dmin * m), two products and a difference, each rounded to f32.
// Quantization (Q8_0 and Q4_0) repeats gguf.quants.quantize, which is ggml's reference quantizer
// (quantize_row_q8_0_ref, quantize_row_q4_0_ref): the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/quant_decode.h"
#include "llm/dtype.h"

namespace llm::cpu {

// The block structs and their decoding live in kernels/quant_decode.h, shared with the CUDA
// kernels; these names keep the CPU code's spelling.
using quant::BlockQ4_0;
using quant::BlockQ4_1;
using quant::BlockQ4_K;
using quant::BlockQ5_K;
using quant::BlockQ6_K;
using quant::BlockQ8_0;
using quant::kQK;
using quant::kQKK;

static_assert(sizeof(BlockQ8_0) == dtype_block_bytes(DType::kQ8_0));
static_assert(sizeof(BlockQ4_0) == dtype_block_bytes(DType::kQ4_0));
static_assert(sizeof(BlockQ4_1) == dtype_block_bytes(DType::kQ4_1));
static_assert(sizeof(BlockQ4_K) == dtype_block_bytes(DType::kQ4_K));
static_assert(sizeof(BlockQ5_K) == dtype_block_bytes(DType::kQ5_K));
static_assert(sizeof(BlockQ6_K) == dtype_block_bytes(DType::kQ6_K));

// Dequantizes n elements (a multiple of dtype_block_elems(type)) stored as consecutive blocks at
// src (any alignment) into dst [n]. type is one of the six quantized types.
void dequantize_blocks(DType type, const void* src, int64_t n, float* dst);

// A K-quant super-block (Q4_K, Q5_K, Q6_K) as integers: its elements are
//   Q4_K, Q5_K: (d * sc[j]) * q[i] - (dmin * sc[8 + j]) for sub-block j = i / 32 (sc 0..63)
//   Q6_K:       (d * sc[j]) * (q[i] - 32)             for sub-block j = i / 16 (sc int8)
// which is dequantize_blocks' arithmetic (each product exact in f32).
struct KQuantInts {
  float d = 0, dmin = 0;  // f16 fields as f32 (dmin 0 for Q6_K)
  int8_t sc[16] = {};     // [16]: Q4_K/Q5_K: 8 scales then 8 mins; Q6_K: 16 scales
  uint8_t q[256] = {};    // [256]: Q4_K 0..15, Q5_K 0..31, Q6_K 0..63
};
KQuantInts decode_kquant(DType type, const void* block);

// Blocks of quantize_row's output for n elements: the row is padded with zeros to whole blocks.
inline int64_t quant_blocks_for(int64_t n) {
  return (n + kQK - 1) / kQK;
}

// Quantizes x [n] to Q8_0 or Q4_0 blocks, quant_blocks_for(n) of them at dst. A row whose length
// is not a multiple of 32 is padded with zeros to the next block (what gguf.quants.quantize
// would give for the zero-padded row; it refuses unpadded ones).
void quantize_row(DType type, const float* x, int64_t n, void* dst);

}  // namespace llm::cpu
