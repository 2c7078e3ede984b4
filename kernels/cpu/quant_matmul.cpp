#include "kernels/cpu/quant_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/quant_matmul_internal.h"
#include "kernels/cpu/quant_matmul_kernels.h"

namespace llm::cpu {
namespace {

int64_t panel_quant_bytes(DType type) {
  return type == DType::kQ8_0 ? detail::kQ8PanelBlock : detail::kQ4PanelBlock;
}

// Bytes of a block's scales: 16 f16 d (Q4_1: then 16 f16 m).
int64_t panel_scale_bytes(DType type) {
  return type == DType::kQ4_1 ? detail::kQ41PanelScales : detail::kPanelScales;
}

// Bytes of one panel of kb blocks: quants, then kb groups of scales.
int64_t panel_bytes(DType type, int64_t kb) {
  return kb * (panel_quant_bytes(type) + panel_scale_bytes(type));
}

void check_type(DType type, const char* what) {
  if (!quant_matmul_supports(type)) {
    throw std::invalid_argument(
        std::string(what) + ": only q8_0, q4_0, q4_1, q4_k, q5_k and q6_k weights are supported");
  }
}

bool is_k(DType type) {
  return detail::is_kquant(detail::quant_kind(type));
}

// K-quant rows are whole super-blocks, as in any GGUF file.
void check_k(DType type, int64_t k, const char* what) {
  if (is_k(type) && k % kQKK != 0) {
    throw std::invalid_argument(std::string(what) + ": k % 256 != 0 for " +
                                std::string(dtype_name(type)));
  }
}

// Bytes of one panel of k columns (padded to whole blocks).
int64_t panel_bytes_of(DType type, int64_t k) {
  if (is_k(type)) return detail::kquant_panel_bytes(detail::quant_kind(type), k);
  return panel_bytes(type, quant_blocks_for(k));
}

// Writes row r (0..15) of panel `panel` (kb blocks) from its GGUF blocks `row` (kb of them).
void pack_row(const unsigned char* row, DType type, int64_t kb, unsigned char* panel, int r) {
  const int64_t qb = panel_quant_bytes(type), sg = panel_scale_bytes(type);
  unsigned char* scales = panel + kb * qb;
  for (int64_t b = 0; b < kb; ++b) {
    unsigned char* q = panel + b * qb;
    if (type == DType::kQ8_0) {
      BlockQ8_0 blk;
      std::memcpy(&blk, row + b * static_cast<int64_t>(sizeof blk), sizeof blk);
      std::memcpy(scales + b * sg + r * 2, &blk.d, 2);
      for (int k = 0; k < kQK; ++k) {
        q[(k / 4) * 64 + r * 4 + k % 4] = static_cast<unsigned char>(blk.qs[k] ^ 0x80);
      }
    } else if (type == DType::kQ4_1) {
      BlockQ4_1 blk;
      std::memcpy(&blk, row + b * static_cast<int64_t>(sizeof blk), sizeof blk);
      std::memcpy(scales + b * sg + r * 2, &blk.d, 2);
      std::memcpy(scales + b * sg + kPanel * 2 + r * 2, &blk.m, 2);
      for (int j = 0; j < kQK / 2; ++j) q[(j / 4) * 64 + r * 4 + j % 4] = blk.qs[j];
    } else {
      BlockQ4_0 blk;
      std::memcpy(&blk, row + b * static_cast<int64_t>(sizeof blk), sizeof blk);
      std::memcpy(scales + b * sg + r * 2, &blk.d, 2);
      for (int j = 0; j < kQK / 2; ++j) q[(j / 4) * 64 + r * 4 + j % 4] = blk.qs[j];
    }
  }
}

}  // namespace

bool quant_matmul_supports(DType type) {
  return type == DType::kQ8_0 || type == DType::kQ4_0 || type == DType::kQ4_1 ||
         type == DType::kQ4_K || type == DType::kQ5_K || type == DType::kQ6_K;
}

size_t quant_packed_bytes(int64_t n, int64_t k, DType type) {
  check_type(type, "quant_packed_bytes");
  check_k(type, k, "quant_packed_bytes");
  return static_cast<size_t>((n + kPanel - 1) / kPanel * panel_bytes_of(type, k));
}

void pack_quant_weight_blocks(const void* gguf_rows, int64_t n, int64_t k, DType type, void* dst,
                              int64_t panel_begin, int64_t panel_end) {
  check_type(type, "pack_quant_weight_blocks");
  if (k % kQK != 0) throw std::invalid_argument("pack_quant_weight_blocks: k % 32 != 0");
  check_k(type, k, "pack_quant_weight_blocks");
  const int64_t kb = k / kQK, pb = panel_bytes_of(type, k);
  const size_t row_bytes = dtype_row_bytes(type, k);
  const auto* in = static_cast<const unsigned char*>(gguf_rows);
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    unsigned char* panel = static_cast<unsigned char*>(dst) + p * pb;
    std::memset(panel, 0, static_cast<size_t>(pb));  // rows past n: zero scales
    const int rows = static_cast<int>(std::min<int64_t>(kPanel, n - p * kPanel));
    for (int r = 0; r < rows; ++r) {
      const unsigned char* row = in + static_cast<size_t>(p * kPanel + r) * row_bytes;
      if (is_k(type)) {
        detail::pack_kquant_row(detail::quant_kind(type), type, row, k, panel, r);
      } else {
        pack_row(row, type, kb, panel, r);
      }
    }
  }
}

void pack_quant_weight_f32(const float* rows, int64_t n, int64_t k, DType type, void* dst,
                           int64_t panel_begin, int64_t panel_end) {
  if (type != DType::kQ8_0 && type != DType::kQ4_0) {
    throw std::invalid_argument("pack_quant_weight_f32: only q8_0 and q4_0 are quantized here");
  }
  const int64_t kb = quant_blocks_for(k), pb = panel_bytes(type, kb);
  std::vector<unsigned char> blocks(static_cast<size_t>(kb) * dtype_block_bytes(type));  // [kb]
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    unsigned char* panel = static_cast<unsigned char*>(dst) + p * pb;
    std::memset(panel, 0, static_cast<size_t>(pb));
    const int rows_in_panel = static_cast<int>(std::min<int64_t>(kPanel, n - p * kPanel));
    for (int r = 0; r < rows_in_panel; ++r) {
      quantize_row(type, rows + (p * kPanel + r) * k, k, blocks.data());
      pack_row(blocks.data(), type, kb, panel, r);
    }
  }
}

void quantize_activations(const float* x, int64_t ldx, int64_t T, int64_t K,
                          QuantizedActivations& out) {
  const int64_t kb = quant_blocks_for(K);
  out.T = T;
  out.k = K;
  out.blocks = kb;
  const auto grow = [](auto& v, int64_t size) {
    if (v.size() < static_cast<size_t>(size)) v.resize(static_cast<size_t>(size));
  };
  grow(out.q, T * kb * kQK);
  grow(out.d, T * kb);
  grow(out.sums, T * kb);
  grow(out.sums16, T * kb * 2);
  const bool avx2 = cpu_isa() >= CpuIsa::kAvx2;
  for (int64_t t = 0; t < T; ++t) {
    int8_t* q = out.q.data() + t * kb * kQK;
    float* d = out.d.data() + t * kb;
    int32_t* sums = out.sums.data() + t * kb;
    if (avx2) {
      detail::quantize_row_q8_avx2(x + t * ldx, K, q, d, sums);
    } else {
      detail::quantize_row_q8_portable(x + t * ldx, K, q, d, sums);
    }
    // The halves' sums (Q6_K's scales cover 16 columns): sums[b] = sums16[2b] + sums16[2b + 1].
    int32_t* sums16 = out.sums16.data() + t * kb * 2;
    for (int64_t h = 0; h < kb * 2; ++h) {
      int32_t s = 0;
      for (int i = 0; i < 16; ++i) s += q[h * 16 + i];
      sums16[h] = s;
    }
  }
}

namespace detail {

QuantArgs quant_args(const QuantizedActivations& x, const QuantPackedWeight& w, int64_t pb,
                     int64_t pe, float* out, int64_t ldo) {
  return {x.q.data(), x.d.data(), x.sums.data(), x.sums16.data(), x.T, x.blocks,
          static_cast<const uint8_t*>(w.data), w.n, quant_kind(w.type), pb, pe, out, ldo};
}

}  // namespace detail

void matmul_quant(const QuantizedActivations& x, const QuantPackedWeight& w, int64_t panel_begin,
                  int64_t panel_end, float* out, int64_t ldo) {
  check_type(w.type, "matmul_quant");
  if (x.k != w.k) throw std::invalid_argument("matmul_quant: activations and weight differ in k");
  check_k(w.type, w.k, "matmul_quant");
  const detail::QuantArgs a = detail::quant_args(x, w, panel_begin, panel_end, out, ldo);
  const CpuIsa isa = cpu_isa();
  if (isa == CpuIsa::kAvx512 && cpu_features().avx512_vnni) {
    detail::avx512_native::matmul_quant(a);
  } else if (isa >= CpuIsa::kAvx2 && cpu_features().f16c) {
    detail::matmul_quant_avx2(a);
  } else {
    detail::matmul_quant_portable(a);
  }
}

float quant_weight_at(const QuantPackedWeight& w, int64_t row, int64_t col) {
  check_type(w.type, "quant_weight_at");
  if (is_k(w.type)) {
    return detail::kquant_weight_at(detail::quant_kind(w.type), w.data, w.k, row, col);
  }
  const int64_t kb = w.blocks(), b = col / kQK, k = col % kQK, r = row % kPanel;
  const auto* panel =
      static_cast<const unsigned char*>(w.data) + row / kPanel * panel_bytes(w.type, kb);
  const int64_t qb = panel_quant_bytes(w.type), sg = panel_scale_bytes(w.type);
  uint16_t d;
  std::memcpy(&d, panel + kb * qb + b * sg + r * 2, 2);
  const unsigned char* q = panel + b * qb;
  int v;
  if (w.type == DType::kQ4_1) {  // dequant_q4_1's d * q + m
    uint16_t m;
    std::memcpy(&m, panel + kb * qb + b * sg + kPanel * 2 + r * 2, 2);
    const int j = k % 16;
    v = (q[(j / 4) * 64 + r * 4 + j % 4] >> (k < 16 ? 0 : 4)) & 0x0f;
    return f16_to_f32(d) * static_cast<float>(v) + f16_to_f32(m);
  }
  if (w.type == DType::kQ8_0) {
    v = static_cast<int8_t>(q[(k / 4) * 64 + r * 4 + k % 4] ^ 0x80);
  } else {
    const int j = k % 16;
    v = ((q[(j / 4) * 64 + r * 4 + j % 4] >> (k < 16 ? 0 : 4)) & 0x0f) - 8;
  }
  return static_cast<float>(v) * f16_to_f32(d);
}

const char* quant_matmul_kernel_name(DType type) {
  check_type(type, "quant_matmul_kernel_name");
  const CpuIsa isa = cpu_isa();
  if (isa == CpuIsa::kAvx512 && cpu_features().avx512_vnni) {
    return "avx512_vnni vpdpbusd (int8 activations)";
  }
  if (isa >= CpuIsa::kAvx2 && cpu_features().f16c) return "avx2 vpmaddubsw (int8 activations)";
  return "portable (int8 activations)";
}

namespace detail {

void quantize_row_q8_portable(const float* x, int64_t K, int8_t* q, float* d, int32_t* sums) {
  for (int64_t b = 0; b < quant_blocks_for(K); ++b) {
    const float* xb = x + b * kQK;
    const int len = static_cast<int>(std::min<int64_t>(kQK, K - b * kQK));
    float amax = 0.0f;
    for (int i = 0; i < len; ++i) amax = std::max(amax, std::fabs(xb[i]));
    // ggml's quantize_row_q8_0: through the reciprocal, rounded half away from zero.
    const float scale = amax / 127.0f;
    const float id = scale == 0.0f ? 0.0f : 1.0f / scale;
    int8_t* qb = q + b * kQK;
    int32_t sum = 0;
    for (int i = 0; i < kQK; ++i) {
      qb[i] = i < len ? static_cast<int8_t>(std::round(xb[i] * id)) : int8_t{0};
      sum += qb[i];
    }
    d[b] = scale;
    sums[b] = sum;
  }
}

// One output element per (t, row): the chain of quant_matmul.h, the integer dot product written
// out as the kernels' layout holds it.
void matmul_quant_portable(const QuantArgs& a) {
  if (is_kquant(a.kind)) return matmul_kquant_portable(a);
  const bool q4 = a.kind != QuantKind::kQ8_0, q41 = a.kind == QuantKind::kQ4_1;
  const int64_t kb = a.blocks;
  const int64_t qb = q4 ? kQ4PanelBlock : kQ8PanelBlock;
  const int64_t sg = q41 ? kQ41PanelScales : kPanelScales;
  const int64_t pbytes = kb * (qb + sg);
  for (int64_t p = a.panel_begin; p < a.panel_end; ++p) {
    const uint8_t* panel = a.w + p * pbytes;
    const int64_t cols = std::min<int64_t>(kPanel, a.n - p * kPanel);
    for (int64_t t = 0; t < a.T; ++t) {
      for (int64_t r = 0; r < cols; ++r) {
        float acc = 0.0f;
        for (int64_t b = 0; b < kb; ++b) {
          const int8_t* x = a.aq + (t * kb + b) * kQK;
          const uint8_t* q = panel + b * qb;
          // The unsigned weights' offset (Q4_1: none, its m is a term of its own).
          int32_t isum = -(q41 ? 0 : q4 ? 8 : 128) * a.asum[t * kb + b];
          for (int g = 0; g < 8; ++g) {
            for (int j = 0; j < 4; ++j) {
              if (q4) {
                const uint8_t byte = q[(g % 4) * 64 + r * 4 + j];
                isum += (g < 4 ? byte & 0x0f : byte >> 4) * x[4 * g + j];
              } else {
                isum += q[g * 64 + r * 4 + j] * x[4 * g + j];
              }
            }
          }
          const uint8_t* scales = panel + kb * qb + b * sg;
          uint16_t dh;
          std::memcpy(&dh, scales + r * 2, 2);
          const float scale = f16_to_f32(dh) * a.ad[t * kb + b];
          acc = std::fma(static_cast<float>(isum), scale, acc);
          if (q41) {  // + m * sum(a): acc = fma(asum, m * d_a, acc)
            std::memcpy(&dh, scales + kPanel * 2 + r * 2, 2);
            acc = std::fma(static_cast<float>(a.asum[t * kb + b]),
                           f16_to_f32(dh) * a.ad[t * kb + b], acc);
          }
        }
        a.out[t * a.ldo + p * kPanel + r] = acc;
      }
    }
  }
}

}  // namespace detail
}  // namespace llm::cpu
