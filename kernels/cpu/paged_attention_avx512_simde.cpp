// The AVX-512 attention kernel once more, for any x86-64: compiled without AVX-512 flags, so
// SIMDe implements every intrinsic in portable C. The tests compare it with the native build (bit
// for bit), with the portable kernel and across batches.
#define SIMDE_NO_NATIVE
#define LLM_AVX512_EMULATED
#define LLM_AVX512_NS avx512_simde
#include "kernels/cpu/paged_attention_avx512.cpp"
