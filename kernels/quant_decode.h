// GGUF's block-quantized formats (ggml-common.h's block_q8_0 and friends, byte for byte) and
// the formulas that turn them into f32, in one header for every compiler that reads them: the
// CPU kernels (kernels/cpu/quant_blocks.cpp), nvcc's device code and the SIMT emulator's host
// build of it (kernels/cuda/quant_matmul.cu). One copy of the arithmetic is what makes the CUDA
// backend's dequantized weights the CPU backend's, bit for bit.
//
// Every product and sum below is rounded to f32 on its own, as the python `gguf` package's numpy
// code rounds it (gguf.quants.dequantize): host code must be compiled with -ffp-contract=off, and
// device code uses the _rn intrinsics, which nvcc never fuses into an FMA.
//
// Needs no CUDA header: kernels/cuda/cuda_api.h, where it is included, defines __host__ and
// __device__ for the emulator; plain host code gets neither.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define LLM_QUANT_FN __host__ __device__ inline
#else
#define LLM_QUANT_FN inline
#endif

namespace llm::quant {

inline constexpr int kQK = 32;    // elements of a Q8_0 / Q4_0 / Q4_1 block
inline constexpr int kQKK = 256;  // elements of a K-quant super-block
inline constexpr int kSub = 32;   // elements of a K-quant sub-block (what dequant_sub decodes)

// f16 fields are stored as their bits (uint16_t); every block is packed, no padding, and its
// alignment is 2 (each size is even), so a run of blocks from an aligned start may be read
// through these structs.
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

// --- f32 arithmetic rounded as written -----------------------------------------------------

LLM_QUANT_FN float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
LLM_QUANT_FN float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
LLM_QUANT_FN float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

// IEEE binary16 bits to f32, exactly (every f16 is an f32). Integer arithmetic only, so host and
// device give the same bits, NaN payloads included (cpu::f16_to_f32's algorithm).
LLM_QUANT_FN float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K super-block.
LLM_QUANT_FN void scale_min_k4(const uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// --- dequantization: y [32] = 32 consecutive elements -----------------------------------------
// dequant_sub(block, j, y) gives elements [32 j, 32 j + 32) of a block: j = 0 for the 32-element
// formats, 0..7 for the K-quants' super-blocks.

LLM_QUANT_FN void dequant_sub(const BlockQ8_0& b, int /*j*/, float* y) {
  const float d = f16_bits_to_f32(b.d);
  for (int i = 0; i < kQK; ++i) y[i] = mul_rn(static_cast<float>(b.qs[i]), d);
}

LLM_QUANT_FN void dequant_sub(const BlockQ4_0& b, int /*j*/, float* y) {
  const float d = f16_bits_to_f32(b.d);
  for (int l = 0; l < kQK / 2; ++l) {
    y[l] = mul_rn(d, static_cast<float>((b.qs[l] & 0x0f) - 8));
    y[l + kQK / 2] = mul_rn(d, static_cast<float>((b.qs[l] >> 4) - 8));
  }
}

LLM_QUANT_FN void dequant_sub(const BlockQ4_1& b, int /*j*/, float* y) {
  const float d = f16_bits_to_f32(b.d), m = f16_bits_to_f32(b.m);
  for (int l = 0; l < kQK / 2; ++l) {
    y[l] = add_rn(mul_rn(d, static_cast<float>(b.qs[l] & 0x0f)), m);
    y[l + kQK / 2] = add_rn(mul_rn(d, static_cast<float>(b.qs[l] >> 4)), m);
  }
}

// Q4_K and Q5_K: (d * sc) * q - (dmin * m), q the nibble (with Q5_K's fifth bit from qh).
template <class Block>
LLM_QUANT_FN void dequant_sub_k(const Block& b, const uint8_t* qh, int j, float* y) {
  int sc = 0, m = 0;
  scale_min_k4(b.scales, j, sc, m);
  const float dl = mul_rn(f16_bits_to_f32(b.d), static_cast<float>(sc));
  const float ml = mul_rn(f16_bits_to_f32(b.dmin), static_cast<float>(m));
  const uint8_t* q = b.qs + (j / 2) * 32;
  const int shift = (j % 2) * 4;
  for (int l = 0; l < kSub; ++l) {
    const int v = ((q[l] >> shift) & 0x0f) | (qh ? ((qh[l] >> j) & 1) << 4 : 0);
    y[l] = sub_rn(mul_rn(dl, static_cast<float>(v)), ml);
  }
}
LLM_QUANT_FN void dequant_sub(const BlockQ4_K& b, int j, float* y) { dequant_sub_k(b, nullptr, j, y); }
LLM_QUANT_FN void dequant_sub(const BlockQ5_K& b, int j, float* y) { dequant_sub_k(b, b.qh, j, y); }

// Q6_K: (d * scales[i / 16]) * (q - 32), q six bits: element i = 128 h + e of half h takes its
// low four bits from ql[64 h + e % 64] (low nibble for e < 64, high nibble after) and its high
// two from qh[32 h + e % 32] (bits 2 (e / 32) and up).
LLM_QUANT_FN void dequant_sub(const BlockQ6_K& b, int j, float* y) {
  const float d = f16_bits_to_f32(b.d);
  const int h = j / 4;
  const uint8_t* ql = b.ql + 64 * h;
  const uint8_t* qh = b.qh + 32 * h;
  for (int l = 0; l < kSub; ++l) {
    const int e = 32 * (j % 4) + l;  // index within the half
    const int lo = e < 64 ? ql[e] & 0x0f : ql[e - 64] >> 4;
    const int hi = (qh[e % 32] >> (2 * (e / 32))) & 3;
    const float dl = mul_rn(d, static_cast<float>(b.scales[(32 * j + l) / 16]));
    y[l] = mul_rn(dl, static_cast<float>((lo | (hi << 4)) - 32));
  }
}

// Sub-blocks of 32 elements per block: 8 in a K-quant super-block, 1 in the others.
template <class Block>
inline constexpr int kSubsPerBlock = kQKK / kSub;
template <>
inline constexpr int kSubsPerBlock<BlockQ8_0> = 1;
template <>
inline constexpr int kSubsPerBlock<BlockQ4_0> = 1;
template <>
inline constexpr int kSubsPerBlock<BlockQ4_1> = 1;

}  // namespace llm::quant
