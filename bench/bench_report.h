// What every llm-bench subcommand reports the same way: the human table on stdout, and the
// --json result with the git commit, the machine and the config, so results stay comparable
// over time and across machines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace llm::bench {

// `git rev-parse HEAD` of the source tree, asked at run time; "unknown" outside a checkout.
std::string git_commit();

// {"cpu_model", "cpu_features", "cpu_isa", "physical_cores", "logical_cpus", "memory_gb"} from
// /proc, CPUID and sysconf; cpu_isa is the instruction set the kernels use in this run.
nlohmann::json machine_info();
// This process's resident set now (VmRSS), in bytes; 0 where /proc does not say.
int64_t resident_bytes();

// The CPU kernels a run with weights of `dtype` ("f32", "bf16", "f16") uses, op by op:
// {"matmul": "avx512_bf16 vdpbf16ps (bf16 activations)", ...}.
nlohmann::json cpu_kernels(const std::string& dtype);

// One table row naming the processor and those kernels.
std::pair<std::string, std::string> kernels_row(const std::string& dtype);

// {"benchmark", "git_commit", "machine", "timestamp", "config"}; the subcommand adds results.
nlohmann::json new_report(const std::string& benchmark, nlohmann::json config);

// {"mean", "median", "p90", "p99", "min", "max"} of the values (all 0 when there are none).
// Percentiles interpolate linearly between order statistics, as numpy's default does.
nlohmann::json summarize(std::vector<double> values);

// A two-column table: a title line, then one "name  value" row per entry.
using Rows = std::vector<std::pair<std::string, std::string>>;
void print_table(const std::string& title, const Rows& rows);

// A number with `digits` after the point.
std::string fmt(double v, int digits = 2);

// Writes the report (pretty-printed) to `path`; throws llm::Error when it cannot.
void write_report(const std::string& path, const nlohmann::json& report);

}  // namespace llm::bench
