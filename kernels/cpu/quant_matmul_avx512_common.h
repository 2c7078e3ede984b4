// Internal: helpers shared by the AVX-512 kernels of matmul_quant (quant_matmul_avx512.cpp and
// quant_matmul_kquant_avx512.cpp), included by each inside its own namespace (native or SIMDe), so
// every function here has internal linkage and is compiled with that file's flags: no AVX-512
// code can leak into another translation unit's inline functions.
#pragma once

#include <simde/x86/avx512.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/avx512_fmadd.h"

#ifndef LLM_AVX512_EMULATED
#include <immintrin.h>
#endif

#include "kernels/cpu/cpu_kernels.h"

#ifndef LLM_AVX512_NS
#define LLM_AVX512_NS avx512_native
#endif

namespace llm::cpu::detail::LLM_AVX512_NS {
namespace {

constexpr int kLanes = 16;  // one panel's 16 rows in one register

// 16 f16 scales as f32 (exact). SIMDe 0.7 has no _mm512_cvtph_ps.
inline simde__m512 load_f16(const uint8_t* p) {
#ifdef LLM_AVX512_EMULATED
  uint16_t h[kLanes];
  float f[kLanes];
  std::memcpy(h, p, sizeof h);
  for (int i = 0; i < kLanes; ++i) f[i] = f16_to_f32(h[i]);
  return simde_mm512_loadu_ps(f);
#else
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
#endif
}

// int32 to f32 (exact here: a block's |isum| < 2^24). SIMDe 0.7 lacks _mm512_cvtepi32_ps too.
inline simde__m512 to_float(simde__m512i v) {
#ifdef LLM_AVX512_EMULATED
  int32_t i[kLanes];
  float f[kLanes];
  simde_mm512_storeu_si512(i, v);
  for (int l = 0; l < kLanes; ++l) f[l] = static_cast<float>(i[l]);
  return simde_mm512_loadu_ps(f);
#else
  return _mm512_cvtepi32_ps(v);
#endif
}

inline simde__m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return simde_mm512_set1_epi32(v);
}

inline void store_cols(float* o, simde__m512 v, int64_t cols) {
  if (cols == kLanes) {
    simde_mm512_storeu_ps(o, v);
    return;
  }
  float tmp[kLanes];
  simde_mm512_storeu_ps(tmp, v);
  for (int64_t j = 0; j < cols; ++j) o[j] = tmp[j];
}

}  // namespace
}  // namespace llm::cpu::detail::LLM_AVX512_NS
