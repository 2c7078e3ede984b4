#include "kernels/cpu/quant_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/cpu_kernels.h"

// Every expression below is one numpy operation of gguf/quants.py, rounded to f32 on its own:
// the file is compiled with -ffp-contract=off so that no product and sum fuse into an FMA.

namespace llm::cpu {
namespace {

// Reads block i of type B from an unaligned run of blocks.
template <class B>
B load_block(const void* src, int64_t i) {
  B b;
  std::memcpy(&b, static_cast<const unsigned char*>(src) + i * static_cast<int64_t>(sizeof(B)),
              sizeof b);
  return b;
}

// A block's elements, sub-block by sub-block, with the formulas the CUDA kernels share.
template <class B>
void dequant_block(const B& b, float* y) {
  for (int j = 0; j < quant::kSubsPerBlock<B>; ++j) quant::dequant_sub(b, j, y + j * quant::kSub);
}

template <class B>
void dequant_run(const void* src, int64_t n, float* dst, int elems) {
  for (int64_t i = 0; i < n / elems; ++i) dequant_block(load_block<B>(src, i), dst + i * elems);
}

BlockQ8_0 quantize_q8_0(const float* x) {
  float amax = 0.0f;
  for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = d == 0.0f ? 0.0f : 1.0f / d;
  BlockQ8_0 b;
  b.d = f32_to_f16(d);
  // np_roundf: half away from zero, as std::round.
  for (int i = 0; i < kQK; ++i) b.qs[i] = static_cast<int8_t>(std::round(x[i] * id));
  return b;
}

BlockQ4_0 quantize_q4_0(const float* x) {
  int imax = 0;  // the first element of largest magnitude (numpy's argmax)
  for (int i = 1; i < kQK; ++i) {
    if (std::fabs(x[i]) > std::fabs(x[imax])) imax = i;
  }
  const float d = x[imax] / -8.0f;
  const float id = d == 0.0f ? 0.0f : 1.0f / d;
  uint8_t q[kQK];
  for (int i = 0; i < kQK; ++i) {
    const float v = x[i] * id + 8.5f;  // two roundings, as numpy's two operations
    q[i] = static_cast<uint8_t>(std::min(15, static_cast<int>(v)));
  }
  BlockQ4_0 b;
  b.d = f32_to_f16(d);
  for (int j = 0; j < kQK / 2; ++j) b.qs[j] = static_cast<uint8_t>(q[j] | (q[j + kQK / 2] << 4));
  return b;
}

}  // namespace

void dequantize_blocks(DType type, const void* src, int64_t n, float* dst) {
  switch (type) {
    case DType::kQ8_0:
      return dequant_run<BlockQ8_0>(src, n, dst, kQK);
    case DType::kQ4_0:
      return dequant_run<BlockQ4_0>(src, n, dst, kQK);
    case DType::kQ4_1:
      return dequant_run<BlockQ4_1>(src, n, dst, kQK);
    case DType::kQ4_K:
      return dequant_run<BlockQ4_K>(src, n, dst, kQKK);
    case DType::kQ5_K:
      return dequant_run<BlockQ5_K>(src, n, dst, kQKK);
    case DType::kQ6_K:
      return dequant_run<BlockQ6_K>(src, n, dst, kQKK);
    default:
      throw std::invalid_argument("dequantize_blocks: not a quantized type");
  }
}

KQuantInts decode_kquant(DType type, const void* block) {
  KQuantInts out;
  if (type == DType::kQ6_K) {
    const auto b = load_block<BlockQ6_K>(block, 0);
    out.d = f16_to_f32(b.d);
    std::memcpy(out.sc, b.scales, sizeof out.sc);
    for (int i = 0; i < kQKK; ++i) {  // dequant_q6_k's bit gathering
      const int h = i / 128, e = i % 128;
      const int lo = e < 64 ? b.ql[64 * h + e] & 0x0f : b.ql[64 * h + e - 64] >> 4;
      const int hi = (b.qh[32 * h + e % 32] >> (2 * (e / 32))) & 3;
      out.q[i] = static_cast<uint8_t>(lo | (hi << 4));
    }
    return out;
  }
  if (type != DType::kQ4_K && type != DType::kQ5_K) {
    throw std::invalid_argument("decode_kquant: not a K-quant type");
  }
  // Q4_K and Q5_K share d, dmin and scales; Q5_K adds qh before qs.
  const bool q5 = type == DType::kQ5_K;
  BlockQ5_K b5{};  // a Q4_K block's fields moved into Q5_K's (qh zero)
  if (q5) {
    b5 = load_block<BlockQ5_K>(block, 0);
  } else {
    const auto b4 = load_block<BlockQ4_K>(block, 0);
    b5.d = b4.d;
    b5.dmin = b4.dmin;
    std::memcpy(b5.scales, b4.scales, sizeof b5.scales);
    std::memcpy(b5.qs, b4.qs, sizeof b5.qs);
  }
  out.d = f16_to_f32(b5.d);
  out.dmin = f16_to_f32(b5.dmin);
  const uint8_t* qs = b5.qs;
  for (int j = 0; j < 8; ++j) {
    int sc = 0, m = 0;
    quant::scale_min_k4(b5.scales, j, sc, m);
    out.sc[j] = static_cast<int8_t>(sc);
    out.sc[8 + j] = static_cast<int8_t>(m);
    for (int l = 0; l < 32; ++l) {
      int v = (qs[(j / 2) * 32 + l] >> ((j % 2) * 4)) & 0x0f;
      if (q5) v |= ((b5.qh[l] >> j) & 1) << 4;
      out.q[j * 32 + l] = static_cast<uint8_t>(v);
    }
  }
  return out;
}

void quantize_row(DType type, const float* x, int64_t n, void* dst) {
  if (type != DType::kQ8_0 && type != DType::kQ4_0) {
    throw std::invalid_argument("quantize_row: only q8_0 and q4_0 are quantized here");
  }
  auto* out = static_cast<unsigned char*>(dst);
  const size_t bytes = dtype_block_bytes(type);
  for (int64_t b = 0; b < quant_blocks_for(n); ++b) {
    float block[kQK] = {};  // the row's elements, zero past n
    const int64_t len = std::min<int64_t>(kQK, n - b * kQK);
    std::memcpy(block, x + b * kQK, static_cast<size_t>(len) * sizeof(float));
    if (type == DType::kQ8_0) {
      const BlockQ8_0 q = quantize_q8_0(block);
      std::memcpy(out + b * static_cast<int64_t>(bytes), &q, bytes);
    } else {
      const BlockQ4_0 q = quantize_q4_0(block);
      std::memcpy(out + b * static_cast<int64_t>(bytes), &q, bytes);
    }
  }
}

}  // namespace llm::cpu
