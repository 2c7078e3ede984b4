// The AVX-512 VNNI K-quant kernels once more, for any x86-64: compiled without AVX-512 flags, so
// SIMDe implements every intrinsic in portable C. Tests compare them with the native build and
// with the portable kernel.
#define SIMDE_NO_NATIVE
#define LLM_AVX512_EMULATED
#define LLM_AVX512_NS avx512_simde
#include "kernels/cpu/quant_matmul_kquant_avx512.cpp"
