// GGUF's block-quantized formats, byte for byte (ggml-common.h's block_q8_0 and friends), and
// their conversions to and from f32.
//
// Dequantization repeats the float operations of the python `gguf` package
// (gguf.quants.dequantize) in its order, so it returns the same bits: e.g. Q4_K's element is
// (d * sc) * q - (dmin * m), two products and a difference, each rounded to f32. Quantization
// (Q8_0 and Q4_0) repeats gguf.quants.quantize, which is ggml's reference quantizer
// (quantize_row_q8_0_ref, quantize_row_q4_0_ref): the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "llm/dtype.h"

namespace llm::cpu {

inline constexpr int kQK = 32;    // elements of a Q8_0 / Q4_0 / Q4_1 block
inline constexpr int kQKK = 256;  // elements of a K-quant super-block

// f16 fields are stored as their bits (uint16_t); every block is packed, no padding.
struct BlockQ8_0 {
  uint16_t d;     // scale: x = d * qs[i]
  int8_t qs[32];  // [32]
};
struct BlockQ4_0 {
  uint16_t d;      // scale: x = d * (nibble - 8)
  uint8_t qs[16];  // element j < 16: low nibble of qs[j]; element j + 16: its high nibble
};
struct BlockQ4_1 {
  uint16_t d, m;   // x = d * nibble + m
  uint8_t qs[16];  // nibbles as in BlockQ4_0
};
struct BlockQ4_K {
  uint16_t d, dmin;    // super-block scales of the 8 sub-block scales and mins
  uint8_t scales[12];  // 8 six-bit scales and 8 six-bit mins (get_scale_min_k4's packing)
  uint8_t qs[128];     // 4 chunks of 32 bytes: sub-block 2c in low nibbles, 2c+1 in high
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];  // as in BlockQ4_K
  uint8_t qh[32];      // bit j of qh[l]: the fifth bit of element l of sub-block j
  uint8_t qs[128];     // low four bits, as in BlockQ4_K
};
struct BlockQ6_K {
  uint8_t ql[128];    // low four bits
  uint8_t qh[64];     // high two bits
  int8_t scales[16];  // one per 16 elements
  uint16_t d;
};
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
