// Internal: the fused multiply-add every AVX-512 kernel uses, for both builds of each kernel
// source. SIMDe emulates _mm512_fmadd_ps as a multiply and an add (two roundings), so the
// emulated build (LLM_AVX512_EMULATED) fuses each lane itself to compute what the instruction
// computes. Included by each kernel file inside nothing: the function lives in the build's own
// namespace (LLM_AVX512_NS) with internal linkage, compiled with that file's flags.
#pragma once

#include <simde/x86/avx512.h>

#ifndef LLM_AVX512_NS
#define LLM_AVX512_NS avx512_native
#endif

namespace llm::cpu::detail::LLM_AVX512_NS {
namespace {

inline simde__m512 fmadd(simde__m512 a, simde__m512 b, simde__m512 c) {
#ifdef LLM_AVX512_EMULATED
  float av[16], bv[16], cv[16];  // [16] lanes each
  simde_mm512_storeu_ps(av, a);
  simde_mm512_storeu_ps(bv, b);
  simde_mm512_storeu_ps(cv, c);
  for (int i = 0; i < 16; ++i) cv[i] = __builtin_fmaf(av[i], bv[i], cv[i]);
  return simde_mm512_loadu_ps(cv);
#else
  return simde_mm512_fmadd_ps(a, b, c);
#endif
}

}  // namespace
}  // namespace llm::cpu::detail::LLM_AVX512_NS
