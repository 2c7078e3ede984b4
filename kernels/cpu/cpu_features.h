// What this processor can run, read once at start-up, so one binary picks its kernels at run
// time (AVX2+FMA where present, portable C++ elsewhere) instead of at build time.
#pragma once

#include <string>

namespace llm::cpu {

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 and FMA3: the 8-wide float kernels
  bool f16c = false;      // half <-> float conversions, for f16 weights
  bool avx512f = false;   // reported only; no AVX-512 kernels yet
  bool avx512_bf16 = false;
  std::string describe() const;  // "avx2 fma f16c", for logs and benchmark reports
};

// The features of this machine, honouring LLM_CPU_KERNELS=portable (forces the plain C++ kernels,
// to test them on an AVX2 machine).
const CpuFeatures& cpu_features();

}  // namespace llm::cpu
