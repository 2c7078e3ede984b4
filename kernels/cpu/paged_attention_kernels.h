// Internal: the AVX-512 paged attention kernel behind paged_attention() (see
// paged_attention_avx512.cpp), once as instructions (avx512_native: needs AVX-512 F/BW/VL/DQ and
// FMA; the caller checks) and once emulated by SIMDe (avx512_simde: runs on any x86-64, slowly;
// for tests). Both compute the same bits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/paged_attention.h"

namespace llm::cpu::detail {

#define LLM_DECLARE_AVX512_ATTENTION(ns)                                                         \
  namespace ns {                                                                                 \
  size_t paged_attention_scratch_floats(const PagedAttentionArgs& a);                            \
  void paged_attention(const PagedAttentionArgs& a, int64_t begin, int64_t end, float* scratch); \
  }
LLM_DECLARE_AVX512_ATTENTION(avx512_native)
LLM_DECLARE_AVX512_ATTENTION(avx512_simde)
#undef LLM_DECLARE_AVX512_ATTENTION

}  // namespace llm::cpu::detail
