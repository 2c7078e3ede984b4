// Shared by the matmul_quant tests: every kernel this machine can run, and a call of one.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/quant_matmul.h"
#include "kernels/cpu/quant_matmul_internal.h"
#include "kernels/cpu/quant_matmul_kernels.h"

namespace llm::cpu::test {

using Kernel = void (*)(const detail::QuantArgs&);

// Every kernel this machine can run, the SIMDe emulation always.
inline std::vector<std::pair<std::string, Kernel>> kernels() {
  std::vector<std::pair<std::string, Kernel>> k = {
      {"portable", detail::matmul_quant_portable},
      {"avx512_simde", detail::avx512_simde::matmul_quant}};
  if (cpu_features().avx2_fma && cpu_features().f16c)
    k.emplace_back("avx2", detail::matmul_quant_avx2);
  if (cpu_features().avx512_vnni)
    k.emplace_back("avx512_native", detail::avx512_native::matmul_quant);
  return k;
}

// out [T][ldo] from one kernel over panels [pb, pe).
inline void run_kernel(Kernel kernel, const QuantizedActivations& x, const QuantPackedWeight& w,
                       int64_t pb, int64_t pe, float* out, int64_t ldo) {
  kernel(detail::quant_args(x, w, pb, pe, out, ldo));
}

}  // namespace llm::cpu::test
