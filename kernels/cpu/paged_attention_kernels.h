// Internal: the AVX-512 paged attention kernel behind paged_attention() (see
// paged_attention_avx512.cpp), once as instructions (avx512_native: needs AVX-512 F/BW/VL/DQ and
// FMA; the caller checks) and once emulated by SIMDe (avx512_simde: runs on any x86-64, slowly;
// for tests). Both compute the same bits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/paged_attention.h"

namespace llm::cpu::detail {

// Query tokens per work item, in every build: enough work per item to amortise its set-up (the
// AVX-512 kernel's key transposition), small enough that a long prompt of one sequence still
// spreads over every core.
constexpr int kAttentionRowsPerItem = 32;

#define LLM_DECLARE_AVX512_ATTENTION(ns)                                                         \
  namespace ns {                                                                                 \
  size_t paged_attention_scratch_floats(const PagedAttentionArgs& a);                            \
  void paged_attention(const PagedAttentionArgs& a, int64_t begin, int64_t end, float* scratch); \
  }
LLM_DECLARE_AVX512_ATTENTION(avx512_native)
LLM_DECLARE_AVX512_ATTENTION(avx512_simde)
#undef LLM_DECLARE_AVX512_ATTENTION

}  // namespace llm::cpu::detail
