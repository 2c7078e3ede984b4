#include "kernels/cpu/packed_matmul.h"

#include <cmath>
#include <cstring>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/packed_matmul_kernels.h"

namespace llm::cpu {

size_t packed_weight_bytes(int64_t n, int64_t k, WeightType type) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
  return static_cast<size_t>(panels * k * kPanel) * weight_type_size(type);
}

void pack_weight(const void* src, int64_t n, int64_t k, WeightType type, void* dst) {
  const size_t es = weight_type_size(type);
  const auto* in = static_cast<const unsigned char*>(src);
  auto* out = static_cast<unsigned char*>(dst);
  const int64_t panels = (n + kPanel - 1) / kPanel;
  std::memset(dst, 0, packed_weight_bytes(n, k, type));
  for (int64_t p = 0; p < panels; ++p) {
    for (int64_t r = 0; r < kPanel && p * kPanel + r < n; ++r) {
      const unsigned char* row = in + static_cast<size_t>((p * kPanel + r) * k) * es;
      unsigned char* col = out + static_cast<size_t>(p * k * kPanel + r) * es;
      for (int64_t c = 0; c < k; ++c)
        std::memcpy(col + static_cast<size_t>(c * kPanel) * es, row + c * es, es);
    }
  }
}

float packed_weight_at(const PackedWeight& w, int64_t row, int64_t col) {
  const int64_t i = (row / kPanel) * w.k * kPanel + col * kPanel + row % kPanel;
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
  if (f.avx2_fma && (w.type != WeightType::kF16 || f.f16c)) {
    detail::matmul_packed_avx2(x, ldx, T, w, panel_begin, panel_end, out, ldo);
  } else {
    detail::matmul_packed_portable(x, ldx, T, w, panel_begin, panel_end, out, ldo);
  }
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
