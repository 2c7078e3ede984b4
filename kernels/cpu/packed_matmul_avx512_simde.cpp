// The AVX-512 kernels once more, for any x86-64: compiled without AVX-512 flags, so SIMDe
// implements every intrinsic in portable C. Tests compare these with the native build and with
// float64; matmul_packed falls back to them for a pair-layout weight on a CPU without BF16.
#define SIMDE_NO_NATIVE
#define LLM_AVX512_EMULATED
#define LLM_AVX512_NS avx512_simde
#include "kernels/cpu/packed_matmul_avx512.cpp"
