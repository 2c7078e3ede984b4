// What this processor can run, read once at start-up, so one binary picks its kernels at run
// time (AVX-512, AVX2+FMA or portable C++) instead of at build time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace llm::cpu {

struct CpuFeatures {
  bool avx2_fma = false;         // AVX2 and FMA3: the 8-wide float kernels
  bool f16c = false;             // half <-> float conversions, for f16 weights
  bool avx512 = false;           // AVX-512 F, BW, VL and DQ: the 16-wide float kernels
  bool avx512_bf16 = false;      // vdpbf16ps: bf16 pair dot products
  bool avx512_vnni = false;      // vpdpbusd: int8 dot products (reported; no int8 kernels yet)
  std::string describe() const;  // "avx2 fma f16c avx512 ...", for logs and benchmark reports
};

// The instruction set the kernels use. Each level needs the one below it.
enum class CpuIsa { kPortable, kAvx2, kAvx512 };

// The features of this machine. LLM_CPU_KERNELS=portable clears them all (forces the plain C++
// kernels, to test them on a vector machine).
const CpuFeatures& cpu_features();

// The ISA in use: the best this machine has unless set_cpu_isa() or LLM_CPU_KERNELS chose another.
CpuIsa cpu_isa();
std::string_view cpu_isa_name(CpuIsa isa);  // "portable", "avx2", "avx512"

// Forces an ISA by name ("auto", "portable", "avx2", "avx512"), for comparisons and for CPUs that
// misreport. Returns an error message for an unknown name or an ISA this machine lacks. Call it
// before any backend packs weights: packed layouts follow the ISA in use at that time.
std::optional<std::string> set_cpu_isa(std::string_view name);
// Whether set_cpu_isa(name) would succeed.
bool cpu_isa_supported(std::string_view name);

// The processor's model name from CPUID (e.g. "AMD EPYC 9R14"), or "unknown".
std::string cpu_model_name();

}  // namespace llm::cpu
