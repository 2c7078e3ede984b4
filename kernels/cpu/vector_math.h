// exp on W floats at once, for softmax and SiLU: libm's expf is a scalar call per element, which
// took 5% of a 512-token prefill. Only lane-wise IEEE operations (no FMA, which the ISO C++ build
// never contracts to), so the result does not depend on W or on the ISA a caller is built for.
// W should match the caller's registers: 4 for SSE2 (8 would be split into slow scalar code
// there), 8 for AVX2, 16 for AVX-512.
#pragma once

#include <cstdint>

namespace llm::cpu {

// Eight floats as one vector: the 8-wide loops of the attention kernel.
using Vec8 = float __attribute__((vector_size(32)));

// v[0..W) = e^v[0..W) in place (an array, not a vector argument: that would tie the calling
// convention to each caller's ISA), within 1 unit in the last place where e^x is a normal float
// (x in [-87.3, 88.72]); 0 below -87.3, +inf above, NaN for NaN. Cephes' expf: x = n ln2 + r with
// |r| <= ln2 / 2, a degree-6 polynomial for e^r, then 2^n built in the exponent bits.
// The vector types of W lanes (named per width: GCC's __builtin_convertvector refuses a
// vector_size that depends on a template parameter).
template <int W>
struct Lanes;
template <>
struct Lanes<4> {
  typedef float V __attribute__((vector_size(16)));
  typedef int32_t I __attribute__((vector_size(16)));
};
template <>
struct Lanes<8> {
  typedef float V __attribute__((vector_size(32)));
  typedef int32_t I __attribute__((vector_size(32)));
};
template <>
struct Lanes<16> {
  typedef float V __attribute__((vector_size(64)));
  typedef int32_t I __attribute__((vector_size(64)));
};

template <int W>
[[gnu::always_inline]] inline void exp_lanes(float* v) {
  using V = typename Lanes<W>::V;
  using I = typename Lanes<W>::I;
  V x;
  __builtin_memcpy(&x, v, sizeof x);
  const I low = x < -87.3f;  // lanes that underflow
  const I nan = x != x;
  x = x < -87.3f ? V{} - 87.3f : x;
  x = x > 88.8f ? V{} + 88.8f : x;  // still overflows; keeps n <= 128
  // n = round(x / ln 2): truncate x / ln 2 + 1/2, one less where that was negative and inexact.
  const V t = x * 1.44269504088896341f + 0.5f;
  I n = __builtin_convertvector(t, I);
  n -= __builtin_convertvector(n, V) > t ? 1 : 0;
  const V nf = __builtin_convertvector(n, V);
  // r = x - n ln 2, ln 2 in two parts so that n * 0.693359375 is exact.
  const V r = (x - nf * 0.693359375f) - nf * -2.12194440e-4f;
  V p = V{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = (p * (r * r) + r) + 1.0f;
  // 2^n as 2^(n/2) * 2^(n - n/2), each a normal float for n in [-126, 128]: the first product is
  // exact, the second overflows to infinity exactly where e^x does.
  const I n1 = n >> 1, n2 = n - n1;
  const I bits1 = (n1 + 127) << 23, bits2 = (n2 + 127) << 23;
  V s1, s2;
  __builtin_memcpy(&s1, &bits1, sizeof s1);
  __builtin_memcpy(&s2, &bits2, sizeof s2);
  V y = (p * s1) * s2;
  y = low ? V{} : y;
  y = nan ? x : y;
  __builtin_memcpy(v, &y, sizeof y);
}

// v[0..n) = e^v[0..n) in place, W at a time (the tail through a padded copy).
template <int W>
[[gnu::always_inline]] inline void exp_inplace(float* v, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) exp_lanes<W>(v + i);
  if (i < n) {
    float tail[W] = {};
    for (int64_t j = i; j < n; ++j) tail[j - i] = v[j];
    exp_lanes<W>(tail);
    for (int64_t j = i; j < n; ++j) v[j] = tail[j - i];
  }
}

}  // namespace llm::cpu
