#include "kernels/cpu/cpu_kernels.h"

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/vector_math.h"
#include "kernels/quant_decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace llm::cpu {

float dot(const float* a, const float* b, int64_t n) {
  // Eight independent partial sums: the compiler maps them onto one vector register, and the
  // order of additions is the same on every ISA and for every batch size.
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[k + j] * b[k + j];
  }
  for (int j = 0; k < n; ++k, ++j) acc[j] += a[k] * b[k];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void embedding(const float* table, const int32_t* ids, int64_t num_tokens, int64_t dim,
               float* out) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    if (ids[t] < 0) {
      std::fill_n(out + t * dim, dim, 0.f);
    } else {
      std::memcpy(out + t * dim, table + static_cast<int64_t>(ids[t]) * dim,
                  static_cast<size_t>(dim) * sizeof(float));
    }
  }
}

void embedding_16(const uint16_t* table, bool bf16, const int32_t* ids, int64_t num_tokens,
                  int64_t dim, float* out) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    float* o = out + t * dim;
    if (ids[t] < 0) {
      std::fill_n(o, dim, 0.f);
      continue;
    }
    const uint16_t* row = table + static_cast<int64_t>(ids[t]) * dim;
    for (int64_t i = 0; i < dim; ++i) o[i] = bf16 ? bf16_to_f32(row[i]) : f16_to_f32(row[i]);
  }
}

static void rmsnorm_row(const float* x, const float* w, int64_t dim, float eps, float* out) {
  const float ms = dot(x, x, dim) / static_cast<float>(dim);
  const float inv = 1.0f / std::sqrt(ms + eps);
  for (int64_t i = 0; i < dim; ++i) out[i] = x[i] * inv * w[i];
}

void rmsnorm(const float* x, const float* w, int64_t num_tokens, int64_t dim, float eps,
             float* out) {
  for (int64_t t = 0; t < num_tokens; ++t) rmsnorm_row(x + t * dim, w, dim, eps, out + t * dim);
}

void gelu_tanh_mul(const float* gate_up, int64_t num_tokens, int64_t F, float* out) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* g = gate_up + t * 2 * F;
    for (int64_t f = 0; f < F; ++f) {
      const float x = g[f];
      const float gelu = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
      out[t * F + f] = gelu * g[F + f];
    }
  }
}

void softcap(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

void add_bias(float* x, const float* bias, int64_t num_tokens, int64_t dim) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    for (int64_t i = 0; i < dim; ++i) x[t * dim + i] += bias[i];
  }
}

void qk_norm(float* qkv, const float* q_w, const float* k_w, int64_t num_tokens, int row_heads,
             int num_q, int num_k, int64_t head_dim, float eps) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    for (int h = 0; h < num_q + num_k; ++h) {
      float* head = qkv + (t * row_heads + h) * head_dim;
      rmsnorm_row(head, h < num_q ? q_w : k_w, head_dim, eps, head);  // reads all, then writes
    }
  }
}

void add_rmsnorm(float* residual, const float* delta, const float* w, int64_t num_tokens,
                 int64_t dim, float eps, float* out) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    float* r = residual + t * dim;
    const float* d = delta + t * dim;
    for (int64_t i = 0; i < dim; ++i) r[i] += d[i];
    rmsnorm_row(r, w, dim, eps, out + t * dim);
  }
}

void matmul(const float* x, const float* w, int64_t T, int64_t K, int64_t N, float* out) {
  // Weight rows stay hot in cache while every token row uses them.
  for (int64_t n = 0; n < N; ++n) {
    const float* wn = w + n * K;
    for (int64_t t = 0; t < T; ++t) out[t * N + n] = dot(x + t * K, wn, K);
  }
}

void rope(float* x, int64_t ld, int64_t col0, const int32_t* positions, int64_t num_tokens,
          int num_heads, int head_dim, int half, const float* cos_sin) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* cs = cos_sin + static_cast<int64_t>(positions[t]) * half * 2;
    for (int h = 0; h < num_heads; ++h) {
      float* v = x + t * ld + col0 + static_cast<int64_t>(h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const float c = cs[2 * i], s = cs[2 * i + 1];
        const float x1 = v[i], x2 = v[i + half];
        v[i] = x1 * c - x2 * s;
        v[i + half] = x2 * c + x1 * s;
      }
    }
  }
}

void kv_write(const float* qkv, int64_t ld, int64_t k_col0, int64_t v_col0,
              const int32_t* slot_mapping, int64_t num_tokens, int num_kv_heads, int head_dim,
              int block_size, float* k_cache, float* v_cache) {
  const size_t bytes = static_cast<size_t>(head_dim) * sizeof(float);
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t slot = slot_mapping[t];
    if (slot < 0) continue;  // a padding row: no cache slot (as the CUDA kernel skips it)
    const int64_t block = slot / block_size, offset = slot % block_size;
    for (int h = 0; h < num_kv_heads; ++h) {
      const int64_t dst = ((block * num_kv_heads + h) * block_size + offset) * head_dim;
      std::memcpy(k_cache + dst, qkv + t * ld + k_col0 + static_cast<int64_t>(h) * head_dim, bytes);
      std::memcpy(v_cache + dst, qkv + t * ld + v_col0 + static_cast<int64_t>(h) * head_dim, bytes);
    }
  }
}

namespace {

// SiLU-and-multiply on W lanes at a time, built below for each ISA (the same bits in each).
template <int W>
[[gnu::always_inline]] inline void silu_mul_rows(const float* gate_up, int64_t num_tokens,
                                                 int64_t F, float* out) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* g = gate_up + t * 2 * F;
    const float* u = g + F;
    float* o = out + t * F;
    // e^-g into the output row, then the quotient and product in place.
    for (int64_t f = 0; f < F; ++f) o[f] = -g[f];
    exp_inplace<W>(o, F);
    for (int64_t f = 0; f < F; ++f) o[f] = g[f] / (1.0f + o[f]) * u[f];
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))) void silu_mul_avx512(
    const float* gate_up, int64_t num_tokens, int64_t F, float* out) {
  silu_mul_rows<16>(gate_up, num_tokens, F, out);
}
__attribute__((target("avx2,fma"))) void silu_mul_avx2(const float* gate_up, int64_t num_tokens,
                                                       int64_t F, float* out) {
  silu_mul_rows<8>(gate_up, num_tokens, F, out);
}

}  // namespace

void silu_mul(const float* gate_up, int64_t num_tokens, int64_t F, float* out) {
  switch (cpu_isa()) {
    case CpuIsa::kAvx512:
      return silu_mul_avx512(gate_up, num_tokens, F, out);
    case CpuIsa::kAvx2:
      return silu_mul_avx2(gate_up, num_tokens, F, out);
    case CpuIsa::kPortable:
      break;
  }
  silu_mul_rows<4>(gate_up, num_tokens, F, out);  // SSE2: four lanes
}

float bf16_to_f32(uint16_t v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds past 65504: infinity
  if (abs < 0x38800000u) {
    // Below 2^-14 the result is subnormal: scale so one unit is 2^-24 and round to an integer
    // (exact scaling; the current rounding mode is to nearest even). 0x400 is the smallest normal.
    float af;
    std::memcpy(&af, &abs, sizeof af);
    return sign | static_cast<uint16_t>(std::lrintf(af * 16777216.0f));
  }
  const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);          // to nearest even at bit 13
  return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);  // exponent bias 127 -> 15
}

// One decoding of f16 for the host and the CUDA kernels (kernels/quant_decode.h).
float f16_to_f32(uint16_t h) { return quant::f16_bits_to_f32(h); }

}  // namespace llm::cpu
