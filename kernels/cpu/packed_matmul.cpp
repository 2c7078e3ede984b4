#include "kernels/cpu/packed_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/packed_matmul_kernels.h"

namespace llm::cpu {

size_t packed_weight_bytes(int64_t n, int64_t k, WeightType type, PackedLayout layout) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
  const int64_t steps = layout == PackedLayout::kBf16Pairs ? (k + 1) / 2 * 2 : k;
  return static_cast<size_t>(panels * steps * kPanel) * weight_type_size(type);
}

PackedLayout preferred_layout(WeightType type) {
  return type == WeightType::kBF16 && cpu_isa() == CpuIsa::kAvx512 && cpu_features().avx512_bf16
             ? PackedLayout::kBf16Pairs
             : PackedLayout::kKMajor;
}

namespace {

// Offset of element (row, col) in a packed weight of k columns.
int64_t packed_offset(int64_t row, int64_t col, int64_t k, PackedLayout layout) {
  if (layout == PackedLayout::kBf16Pairs) {
    const int64_t pairs = (k + 1) / 2;
    return (row / kPanel) * pairs * 2 * kPanel + (col / 2) * 2 * kPanel + (row % kPanel) * 2 +
           col % 2;
  }
  return (row / kPanel) * k * kPanel + col * kPanel + row % kPanel;
}

}  // namespace

namespace {

// pack_weight for elements of type T, panel by panel: each k step (or pair of steps) of a panel
// is written once, contiguously, from its 16 source rows. The source may be unaligned (a mapped
// checkpoint), so elements are read with memcpy.
template <class T>
void pack_panels(const unsigned char* in, int64_t n, int64_t k, PackedLayout layout, T* out,
                 int64_t panel_begin, int64_t panel_end) {
  const bool pairs = layout == PackedLayout::kBf16Pairs;
  const int64_t steps = pairs ? (k + 1) / 2 * 2 : k;  // k padded to whole pairs
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    T* panel = out + p * steps * kPanel;
    const int64_t rows = std::min<int64_t>(kPanel, n - p * kPanel);
    for (int64_t r = 0; r < rows; ++r) {
      const unsigned char* row = in + static_cast<size_t>((p * kPanel + r) * k) * sizeof(T);
      if (pairs) {
        for (int64_t c = 0; c < k; ++c)
          std::memcpy(panel + (c / 2) * 2 * kPanel + r * 2 + c % 2, row + c * sizeof(T), sizeof(T));
      } else {
        for (int64_t c = 0; c < k; ++c)
          std::memcpy(panel + c * kPanel + r, row + c * sizeof(T), sizeof(T));
      }
    }
  }
}

}  // namespace

namespace {

void check_layout(WeightType type, PackedLayout layout) {
  if (layout == PackedLayout::kBf16Pairs && type != WeightType::kBF16) {
    throw std::invalid_argument("pack_weight: the pair layout holds bf16 weights only");
  }
}

}  // namespace

void pack_weight(const void* src, int64_t n, int64_t k, WeightType type, void* dst,
                 PackedLayout layout) {
  check_layout(type, layout);
  std::memset(dst, 0, packed_weight_bytes(n, k, type, layout));
  pack_weight_panels(src, n, k, type, dst, layout, 0, (n + kPanel - 1) / kPanel);
}

void pack_weight_panels(const void* src, int64_t n, int64_t k, WeightType type, void* dst,
                        PackedLayout layout, int64_t panel_begin, int64_t panel_end) {
  check_layout(type, layout);
  const auto* in = static_cast<const unsigned char*>(src);
  if (type == WeightType::kF32) {
    pack_panels(in, n, k, layout, static_cast<float*>(dst), panel_begin, panel_end);
  } else {
    pack_panels(in, n, k, layout, static_cast<uint16_t*>(dst), panel_begin, panel_end);
  }
}

float packed_weight_at(const PackedWeight& w, int64_t row, int64_t col) {
  const int64_t i = packed_offset(row, col, w.k, w.layout);
  switch (w.type) {
    case WeightType::kF32:
      return static_cast<const float*>(w.data)[i];
    case WeightType::kBF16:
      return bf16_to_f32(static_cast<const uint16_t*>(w.data)[i]);
    case WeightType::kF16:
      return f16_to_f32(static_cast<const uint16_t*>(w.data)[i]);
  }
  return NAN;
}

void matmul_packed(const float* x, int64_t ldx, int64_t T, const PackedWeight& w,
                   int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo) {
  const CpuFeatures& f = cpu_features();
  if (w.layout == PackedLayout::kBf16Pairs) {
    // The activations as bf16 pairs, per calling thread: a buffer that only grows.
    thread_local std::vector<uint32_t> xp;
    const int64_t pairs = (w.k + 1) / 2;
    if (xp.size() < static_cast<size_t>(T * pairs)) xp.resize(static_cast<size_t>(T * pairs));
    to_bf16_pairs(x, ldx, T, w.k, xp.data());
    matmul_packed_pairs(xp.data(), T, w, panel_begin, panel_end, out, ldo);
    return;
  }
  const CpuIsa isa = cpu_isa();
  if (isa == CpuIsa::kAvx512 && w.type == WeightType::kF32) {
    detail::avx512_native::matmul_f32(x, ldx, T, w, panel_begin, panel_end, out, ldo);
  } else if (isa >= CpuIsa::kAvx2 && (w.type != WeightType::kF16 || f.f16c)) {
    detail::matmul_packed_avx2(x, ldx, T, w, panel_begin, panel_end, out, ldo);
  } else {
    detail::matmul_packed_portable(x, ldx, T, w, panel_begin, panel_end, out, ldo);
  }
}

void to_bf16_pairs(const float* x, int64_t ldx, int64_t T, int64_t K, uint32_t* xp) {
  if (cpu_features().avx512) return detail::avx512_native::to_bf16_pairs(x, ldx, T, K, xp);
  const int64_t pairs = (K + 1) / 2;
  for (int64_t t = 0; t < T; ++t) {
    const float* row = x + t * ldx;
    uint32_t* o = xp + t * pairs;
    for (int64_t j = 0; j < K / 2; ++j) {
      o[j] = f32_to_bf16(row[2 * j]) | static_cast<uint32_t>(f32_to_bf16(row[2 * j + 1])) << 16;
    }
    if (K % 2 != 0) o[pairs - 1] = f32_to_bf16(row[K - 1]);
  }
}

void matmul_packed_pairs(const uint32_t* xp, int64_t T, const PackedWeight& w,
                         int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo) {
  if (w.layout != PackedLayout::kBf16Pairs) {
    throw std::invalid_argument("matmul_packed_pairs: the weight is not in the pair layout");
  }
  const int64_t pairs = (w.k + 1) / 2;
  if (cpu_features().avx512_bf16) {
    detail::avx512_native::matmul_bf16_pairs(xp, pairs, T, w, panel_begin, panel_end, out, ldo);
  } else {
    detail::avx512_simde::matmul_bf16_pairs(xp, pairs, T, w, panel_begin, panel_end, out, ldo);
  }
}

const char* matmul_kernel_name(WeightType type, PackedLayout layout) {
  const CpuFeatures& f = cpu_features();
  if (layout == PackedLayout::kBf16Pairs) {
    return f.avx512_bf16 ? "avx512_bf16 vdpbf16ps (bf16 activations)"
                         : "avx512_bf16 emulated by SIMDe (slow)";
  }
  const CpuIsa isa = cpu_isa();
  if (isa == CpuIsa::kAvx512 && type == WeightType::kF32) return "avx512 fma (f32 activations)";
  if (isa >= CpuIsa::kAvx2 && (type != WeightType::kF16 || f.f16c)) {
    return "avx2 fma (f32 activations)";
  }
  return "portable (f32 activations)";
}

namespace detail {

namespace {

template <class Load>
void panel_rows_portable(const float* x, int64_t ldx, int64_t T, const PackedWeight& w, int64_t p,
                         float* out, int64_t ldo, Load load) {
  const int64_t K = w.k;
  const int64_t cols = std::min<int64_t>(kPanel, w.n - p * kPanel);
  for (int64_t t = 0; t < T; ++t) {
    float acc[kPanel] = {};
    const float* xr = x + t * ldx;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t base = (p * K + k) * kPanel;
      for (int j = 0; j < kPanel; ++j) acc[j] = std::fma(xr[k], load(base + j), acc[j]);
    }
    std::memcpy(out + t * ldo + p * kPanel, acc, static_cast<size_t>(cols) * sizeof(float));
  }
}

}  // namespace

void matmul_packed_portable(const float* x, int64_t ldx, int64_t T, const PackedWeight& w,
                            int64_t panel_begin, int64_t panel_end, float* out, int64_t ldo) {
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    switch (w.type) {
      case WeightType::kF32: {
        const auto* d = static_cast<const float*>(w.data);
        panel_rows_portable(x, ldx, T, w, p, out, ldo, [d](int64_t i) { return d[i]; });
        break;
      }
      case WeightType::kBF16: {
        const auto* d = static_cast<const uint16_t*>(w.data);
        panel_rows_portable(x, ldx, T, w, p, out, ldo,
                            [d](int64_t i) { return bf16_to_f32(d[i]); });
        break;
      }
      case WeightType::kF16: {
        const auto* d = static_cast<const uint16_t*>(w.data);
        panel_rows_portable(x, ldx, T, w, p, out, ldo, [d](int64_t i) { return f16_to_f32(d[i]); });
        break;
      }
    }
  }
}

}  // namespace detail
}  // namespace llm::cpu
