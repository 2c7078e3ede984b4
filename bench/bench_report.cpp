#include "bench/bench_report.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <numeric>
#include <set>
#include <thread>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/packed_matmul.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/quant_matmul.h"
#include "llm/error.h"

namespace llm::bench {

std::string git_commit() {
  const std::string cmd = std::string("git -C '") + LLM_SOURCE_DIR + "' rev-parse HEAD 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return "unknown";
  char buf[128] = {};
  std::string out;
  while (std::fgets(buf, sizeof buf, pipe.get()) != nullptr) out += buf;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.size() == 40 ? out : "unknown";
}

int64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "... kB"
  }
  return 0;
}

nlohmann::json machine_info() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown";
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::string physical_id;
  const auto value = [](const std::string& l) {
    const size_t colon = l.find(':');
    return colon == std::string::npos ? std::string()
                                      : l.substr(l.find_first_not_of(" \t", colon + 1));
  };
  while (std::getline(cpuinfo, line)) {
    if (line.starts_with("model name") && model == "unknown") model = value(line);
    if (line.starts_with("physical id")) physical_id = value(line);
    if (line.starts_with("core id")) cores.insert({physical_id, value(line)});
  }
  const unsigned logical = std::max(1u, std::thread::hardware_concurrency());
  const double mem_gb = static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                        static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e9;
  return {{"cpu_model", model},
          {"cpu_features", cpu::cpu_features().describe()},
          {"cpu_isa", std::string(cpu::cpu_isa_name(cpu::cpu_isa()))},
          {"physical_cores", cores.empty() ? logical : cores.size()},
          {"logical_cpus", logical},
          {"memory_gb", std::round(mem_gb * 10) / 10}};
}

nlohmann::json cpu_kernels(const std::string& dtype) {
  const cpu::WeightType type = dtype == "f32"    ? cpu::WeightType::kF32
                               : dtype == "f16" ? cpu::WeightType::kF16
                                                : cpu::WeightType::kBF16;
  // Quantized weights (a GGUF file's, --quantization) take the integer kernels whatever --dtype.
  return {{"matmul", cpu::matmul_kernel_name(type, cpu::preferred_layout(type))},
          {"matmul_quantized", cpu::quant_matmul_kernel_name(DType::kQ8_0)},
          {"attention", cpu::paged_attention_kernel_name()}};
}

std::pair<std::string, std::string> kernels_row(const std::string& dtype) {
  const nlohmann::json k = cpu_kernels(dtype);
  return {"cpu kernels", cpu::cpu_model_name() + " [" + cpu::cpu_features().describe() +
                             "]: matmul " + k["matmul"].get<std::string>() +
                             " (quantized: " + k["matmul_quantized"].get<std::string>() +
                             "), attention " + k["attention"].get<std::string>()};
}

nlohmann::json new_report(const std::string& benchmark, nlohmann::json config) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"benchmark", benchmark},
          {"git_commit", git_commit()},
          {"machine", machine_info()},
          {"timestamp", stamp},
          {"config", std::move(config)}};
}

nlohmann::json summarize(std::vector<double> v) {
  if (v.empty())
    return {{"mean", 0}, {"median", 0}, {"p90", 0}, {"p99", 0}, {"min", 0}, {"max", 0}};
  std::sort(v.begin(), v.end());
  const auto pct = [&](double p) {
    const double pos = p / 100.0 * static_cast<double>(v.size() - 1);
    const size_t lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
  };
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  return {{"mean", mean},   {"median", pct(50)}, {"p90", pct(90)},
          {"p99", pct(99)}, {"min", v.front()},  {"max", v.back()}};
}

void print_table(const std::string& title, const Rows& rows) {
  size_t width = 0;
  for (const auto& [name, _] : rows) width = std::max(width, name.size());
  const std::string rule(std::max<size_t>(title.size(), width + 16), '=');
  std::cout << rule << "\n" << title << "\n" << rule << "\n";
  for (const auto& [name, value] : rows) {
    std::cout << name << std::string(width + 2 - name.size(), ' ') << value << "\n";
  }
  std::cout << std::flush;
}

std::string fmt(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void write_report(const std::string& path, const nlohmann::json& report) {
  std::ofstream f(path);
  f << report.dump(2) << "\n";
  f.close();
  if (!f) throw Error(ErrorCode::kInvalidArgument, path + ": cannot write the JSON report");
}

}  // namespace llm::bench
