// exp on eight floats at once, for softmax and SiLU: libm's expf is a scalar call per element,
// which took 5% of a 512-token prefill. Plain multiplies and adds in a fixed order (no FMA, which
// the ISO C++ build never contracts to), so every ISA clone of a caller computes the same bits.
#pragma once

#include <cstdint>

namespace llm::cpu {

using Vec8 = float __attribute__((vector_size(32)));
using Int8 = int32_t __attribute__((vector_size(32)));

// v[0..8) = e^v[0..8) in place (an array, not a vector argument: that would tie the calling
// convention to each caller's ISA clone), within 2 units in the last place where it is a normal
// float (x in [-87.3, 88.72]); 0 below -87.3, +inf above, NaN for NaN. Cephes' expf: x = n ln2 + r
// with |r| <= ln2 / 2, a degree-6 polynomial for e^r, then 2^n put straight into the exponent bits.
[[gnu::always_inline]] inline void exp8_inplace(float* v) {
  Vec8 x;
  __builtin_memcpy(&x, v, sizeof x);
  const Int8 low = x < -87.3f;  // lanes that underflow
  const Int8 nan = x != x;
  x = x < -87.3f ? Vec8{} - 87.3f : x;
  x = x > 88.8f ? Vec8{} + 88.8f : x;  // still overflows; keeps n <= 128
  // n = round(x / ln 2): truncate x / ln 2 + 1/2, one less where that was negative and inexact.
  const Vec8 t = x * 1.44269504088896341f + 0.5f;
  Int8 n = __builtin_convertvector(t, Int8);
  n -= __builtin_convertvector(n, Vec8) > t ? 1 : 0;
  const Vec8 nf = __builtin_convertvector(n, Vec8);
  // r = x - n ln 2, ln 2 in two parts so that n * 0.693359375 is exact.
  const Vec8 r = (x - nf * 0.693359375f) - nf * -2.12194440e-4f;
  Vec8 p = Vec8{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = (p * (r * r) + r) + 1.0f;
  // 2^n as 2^(n/2) * 2^(n - n/2), each a normal float for n in [-126, 128]: the first product is
  // exact, the second overflows to infinity exactly where e^x does.
  const Int8 n1 = n >> 1, n2 = n - n1;
  const Int8 bits1 = (n1 + 127) << 23, bits2 = (n2 + 127) << 23;
  Vec8 s1, s2;
  __builtin_memcpy(&s1, &bits1, sizeof s1);
  __builtin_memcpy(&s2, &bits2, sizeof s2);
  Vec8 y = (p * s1) * s2;
  y = low ? Vec8{} : y;
  y = nan ? x : y;
  __builtin_memcpy(v, &y, sizeof y);
}

// v[0..n) = e^v[0..n) in place, eight at a time (the tail through a padded copy).
[[gnu::always_inline]] inline void exp_inplace(float* v, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) exp8_inplace(v + i);
  if (i < n) {
    float tail[8] = {};
    for (int64_t j = i; j < n; ++j) tail[j - i] = v[j];
    exp8_inplace(tail);
    for (int64_t j = i; j < n; ++j) v[j] = tail[j - i];
  }
}

}  // namespace llm::cpu
