#include "kernels/cpu/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace llm::cpu {
namespace {

#if defined(__x86_64__) || defined(__i386__)
struct Regs {
  unsigned a, b, c, d;
};
Regs cpuid(unsigned leaf, unsigned sub) {
  Regs r;
  __asm__("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
  return r;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  f.avx512_vnni = f.avx512 && __builtin_cpu_supports("avx512vnni");
  // GCC 12 knows no "f16c" or "avx512bf16" names for __builtin_cpu_supports: ask CPUID.
  f.f16c = (cpuid(1, 0).c >> 29) & 1u;
  f.avx512_bf16 = f.avx512 && ((cpuid(7, 1).a >> 5) & 1u);
#endif
  const char* force = std::getenv("LLM_CPU_KERNELS");
  if (force != nullptr && std::strcmp(force, "portable") == 0) f = CpuFeatures{};
  return f;
}

CpuIsa best_isa(const CpuFeatures& f) {
  // The AVX2 kernels are the fallback of every AVX-512 one (f16 weights), so AVX-512 needs both.
  if (f.avx512 && f.avx2_fma && f.f16c) return CpuIsa::kAvx512;
  if (f.avx2_fma) return CpuIsa::kAvx2;
  return CpuIsa::kPortable;
}

std::optional<CpuIsa> parse_isa(std::string_view name) {
  if (name == "auto") return best_isa(cpu_features());
  if (name == "portable") return CpuIsa::kPortable;
  if (name == "avx2") return CpuIsa::kAvx2;
  if (name == "avx512") return CpuIsa::kAvx512;
  return std::nullopt;
}

std::atomic<CpuIsa>& active_isa() {
  static std::atomic<CpuIsa> isa = [] {
    const char* force = std::getenv("LLM_CPU_KERNELS");
    const CpuIsa best = best_isa(cpu_features());
    if (force == nullptr) return best;
    const std::optional<CpuIsa> asked = parse_isa(force);
    // An unknown or unsupported value keeps the best: the flag, not the variable, reports errors.
    return asked && *asked <= best ? *asked : best;
  }();
  return isa;
}

}  // namespace

std::string CpuFeatures::describe() const {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2_fma, "avx2 fma");
  add(f16c, "f16c");
  add(avx512, "avx512");
  add(avx512_bf16, "avx512_bf16");
  add(avx512_vnni, "avx512_vnni");
  return s.empty() ? "portable" : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

CpuIsa cpu_isa() {
  return active_isa().load(std::memory_order_relaxed);
}

std::string_view cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kPortable:
      break;
  }
  return "portable";
}

std::optional<std::string> set_cpu_isa(std::string_view name) {
  const std::optional<CpuIsa> isa = parse_isa(name);
  if (!isa) {
    return "--cpu-isa: unknown instruction set '" + std::string(name) +
           "' (choose auto, portable, avx2 or avx512)";
  }
  const CpuIsa best = best_isa(cpu_features());
  if (*isa > best) {
    return "--cpu-isa " + std::string(name) + ": this processor supports up to " +
           std::string(cpu_isa_name(best)) + " (" + cpu_features().describe() + ")";
  }
  active_isa().store(*isa, std::memory_order_relaxed);
  return std::nullopt;
}

bool cpu_isa_supported(std::string_view name) {
  const std::optional<CpuIsa> isa = parse_isa(name);
  return isa && *isa <= best_isa(cpu_features());
}

std::string cpu_model_name() {
#if defined(__x86_64__) || defined(__i386__)
  if (cpuid(0x80000000u, 0).a >= 0x80000004u) {
    char name[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002u + i, 0);
      std::memcpy(name + 16 * i, &r, sizeof r);
    }
    std::string s(name);
    const size_t b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
    if (b != std::string::npos) return s.substr(b, e - b + 1);
  }
#endif
  return "unknown";
}

}  // namespace llm::cpu
