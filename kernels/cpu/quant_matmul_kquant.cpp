// The K-quant side of matmul_quant (Q4_K, Q5_K, Q6_K): packing GGUF's super-blocks into the
// panels of quant_matmul.h, reading an element back, and the portable kernel that defines the
// chain the SIMD kernels reproduce.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quant_matmul_internal.h"
#include "kernels/cpu/quant_matmul_kernels.h"

namespace llm::cpu::detail {
namespace {

constexpr int kRows = 16;  // rows of a panel

template <QuantKind K>
constexpr int64_t super_bytes() {
  return kKSuperBytes<K>;
}

int64_t kquant_super_bytes(QuantKind kind) {
  switch (kind) {
    case QuantKind::kQ4_K:
      return super_bytes<QuantKind::kQ4_K>();
    case QuantKind::kQ5_K:
      return super_bytes<QuantKind::kQ5_K>();
    default:
      return super_bytes<QuantKind::kQ6_K>();
  }
}

int64_t kquant_header_bytes(QuantKind kind) {
  return kind == QuantKind::kQ6_K ? kKHeaderBytes<QuantKind::kQ6_K>
                                  : kKHeaderBytes<QuantKind::kQ4_K>;
}

int64_t kquant_block_bytes(QuantKind kind) {
  return (kquant_super_bytes(kind) - kquant_header_bytes(kind)) / 8;
}

// Byte offsets, within a block of a panel, of the nibble byte and the high-bit byte (and the bit
// shift there) that hold element k (0..31) of row r.
int64_t nibble_at(int r, int k) {
  return 32 + (k % 16 / 4) * 64 + r * 4 + k % 4;
}
int64_t high_at(QuantKind kind, int r, int k, int& shift) {
  if (kind == QuantKind::kQ5_K) {
    shift = k / 4;  // bit t of byte 4r + i: element 4t + i
    return 288 + r * 4 + k % 4;
  }
  shift = 2 * (k % 16 / 4);  // bits 2t, 2t+1 of vector k / 16's byte 4r + i: element 16v + 4t + i
  return 288 + (k / 16) * 64 + r * 4 + k % 4;
}

// The integer q (0..15, 0..31 or 0..63) of element k of row r in a block of a panel.
int weight_q(QuantKind kind, const uint8_t* block, int r, int k) {
  int q = (block[nibble_at(r, k)] >> (k < 16 ? 0 : 4)) & 0x0f;
  if (kind != QuantKind::kQ4_K) {
    int shift = 0;
    const uint8_t h = block[high_at(kind, r, k, shift)];
    q |= kind == QuantKind::kQ5_K ? ((h >> shift) & 1) << 4 : ((h >> shift) & 3) << 4;
  }
  return q;
}

float header_f32(const uint8_t* super, int64_t offset) {
  float v;
  std::memcpy(&v, super + offset, sizeof v);
  return v;
}

}  // namespace

QuantKind quant_kind(DType type) {
  switch (type) {
    case DType::kQ8_0:
      return QuantKind::kQ8_0;
    case DType::kQ4_0:
      return QuantKind::kQ4_0;
    case DType::kQ4_1:
      return QuantKind::kQ4_1;
    case DType::kQ4_K:
      return QuantKind::kQ4_K;
    case DType::kQ5_K:
      return QuantKind::kQ5_K;
    case DType::kQ6_K:
      return QuantKind::kQ6_K;
    default:
      throw std::invalid_argument("matmul_quant: no kernel for " + std::string(dtype_name(type)));
  }
}

int64_t kquant_panel_bytes(QuantKind kind, int64_t k) {
  return k / kQKK * kquant_super_bytes(kind);
}

void pack_kquant_row(QuantKind kind, DType type, const unsigned char* row, int64_t k,
                     unsigned char* panel, int r) {
  const int64_t sb = kquant_super_bytes(kind), hb = kquant_header_bytes(kind);
  const int64_t bb = kquant_block_bytes(kind);
  const size_t gguf_bytes = dtype_block_bytes(type);
  for (int64_t s = 0; s < k / kQKK; ++s) {
    const KQuantInts v = decode_kquant(type, row + s * static_cast<int64_t>(gguf_bytes));
    unsigned char* super = panel + s * sb;
    std::memcpy(super + r * 4, &v.d, 4);
    if (kind != QuantKind::kQ6_K) std::memcpy(super + 64 + r * 4, &v.dmin, 4);
    for (int j = 0; j < 8; ++j) {
      unsigned char* block = super + hb + j * bb;
      // Q4_K/Q5_K: scale and min of sub-block j; Q6_K: scales of its two halves of 16.
      block[r] = static_cast<unsigned char>(v.sc[kind == QuantKind::kQ6_K ? 2 * j : j]);
      block[16 + r] =
          static_cast<unsigned char>(v.sc[kind == QuantKind::kQ6_K ? 2 * j + 1 : 8 + j]);
      for (int e = 0; e < kQK; ++e) {
        const int q = v.q[j * kQK + e];
        block[nibble_at(r, e)] |= static_cast<unsigned char>((q & 0x0f) << (e < 16 ? 0 : 4));
        if (kind != QuantKind::kQ4_K) {
          // high_at() sets `shift`: take the index first (in `x |= y`, y is evaluated first).
          int shift = 0;
          const int64_t at = high_at(kind, r, e, shift);
          block[at] |= static_cast<unsigned char>((q >> 4) << shift);
        }
      }
    }
  }
}

// dequantize_blocks' arithmetic on the packed integers: the same f32 bits.
float kquant_weight_at(QuantKind kind, const void* data, int64_t k, int64_t row, int64_t col) {
  const int r = static_cast<int>(row % kRows), e = static_cast<int>(col % kQK);
  const int64_t j = col % kQKK / kQK;
  const auto* super = static_cast<const uint8_t*>(data) +
                      row / kRows * kquant_panel_bytes(kind, k) +
                      col / kQKK * kquant_super_bytes(kind);
  const uint8_t* block = super + kquant_header_bytes(kind) + j * kquant_block_bytes(kind);
  const int q = weight_q(kind, block, r, e);
  const float d = header_f32(super, r * 4);
  const auto sc = static_cast<int8_t>(block[(e < 16 || kind != QuantKind::kQ6_K ? 0 : 16) + r]);
  if (kind == QuantKind::kQ6_K) return d * static_cast<float>(sc) * static_cast<float>(q - 32);
  const float ml = header_f32(super, 64 + r * 4) * static_cast<float>(block[16 + r]);
  return d * static_cast<float>(sc) * static_cast<float>(q) - ml;
}

// One output element per (t, row), block by block:
//   Q4_K, Q5_K: acc = fma(isum, (d * sc) * d_a, acc); acc = fma(-asum, (dmin * mn) * d_a, acc)
//   Q6_K:       acc = fma(isum_lo, (d * sc_lo) * d_a, acc); acc = fma(isum_hi, (d * sc_hi) * d_a,
//               acc), isum_h = sum q * a - 32 * (the half's activation sum)
// (d * sc and dmin * mn are exact in f32; each * d_a and each fma rounds once).
void matmul_kquant_portable(const QuantArgs& a) {
  const QuantKind kind = a.kind;
  const int64_t kb = a.blocks, sb = kquant_super_bytes(kind), hb = kquant_header_bytes(kind);
  const int64_t bb = kquant_block_bytes(kind), pbytes = kb / 8 * sb;
  for (int64_t p = a.panel_begin; p < a.panel_end; ++p) {
    const uint8_t* panel = a.w + p * pbytes;
    const int64_t cols = std::min<int64_t>(kRows, a.n - p * kRows);
    for (int64_t t = 0; t < a.T; ++t) {
      for (int r = 0; r < cols; ++r) {
        float acc = 0.0f;
        for (int64_t b = 0; b < kb; ++b) {
          const uint8_t* super = panel + b / 8 * sb;
          const uint8_t* block = super + hb + b % 8 * bb;
          const int8_t* x = a.aq + (t * kb + b) * kQK;
          const float da = a.ad[t * kb + b], d = header_f32(super, r * 4);
          int32_t isum[2] = {0, 0};  // halves of 16
          for (int e = 0; e < kQK; ++e) isum[e / 16] += weight_q(kind, block, r, e) * x[e];
          const auto sc0 = static_cast<float>(static_cast<int8_t>(block[r]));
          const auto sc1 = static_cast<float>(static_cast<int8_t>(block[16 + r]));
          if (kind == QuantKind::kQ6_K) {
            for (int h = 0; h < 2; ++h) {
              const int32_t s = isum[h] - 32 * a.asum16[(t * kb + b) * 2 + h];
              acc = std::fma(static_cast<float>(s), d * (h == 0 ? sc0 : sc1) * da, acc);
            }
          } else {
            const float dmin = header_f32(super, 64 + r * 4);
            acc = std::fma(static_cast<float>(isum[0] + isum[1]), d * sc0 * da, acc);
            acc = std::fma(static_cast<float>(-a.asum[t * kb + b]), dmin * sc1 * da, acc);
          }
        }
        a.out[t * a.ldo + p * kRows + r] = acc;
      }
    }
  }
}

}  // namespace llm::cpu::detail
