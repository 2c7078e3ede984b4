// llm-bench gemm: the matrix products of a model's layers, run by each implementation this build
// has (the engine's packed kernels; OpenBLAS and oneDNN with -DLLM_BENCH_LIBRARIES=ON), at the
// row counts of decode (1), batched decode (32) and prefill (512). Each figure sits beside the
// machine's limit: T = 1 streams every weight once (memory bandwidth), larger T is FMA-bound.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_report.h"
#include "bench/gemm_impl.h"
#include "bench/machine_probe.h"
#include "bench/subcommands.h"
#include "cli/main_support.h"
#include "engine/model/checkpoint.h"
#include "kernels/cpu/cpu_kernels.h"
#include "llm/error.h"

namespace po = boost::program_options;

namespace llm::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string model;
  int layers = 2;
  std::vector<int> rows = {1, 32, 512};
  std::vector<std::string> impls;  // empty: every one in the build
  int threads = 0;
  double min_seconds = 1.0;
  double max_pass_seconds = 30.0;
  uint64_t seed = 1;
  std::string json;
};

// One weight of the layer stack: row-major f32 [n, k], values bf16-representable so that every
// implementation, f32 or bf16, multiplies the same numbers.
struct Weight {
  std::string name;
  int64_t n = 0;
  int64_t k = 0;
  std::vector<float> values;
};

// The engine's fused projections of `layers` decoder layers (qkv_proj, o_proj, gate_up, down).
std::vector<Weight> layer_weights(const ModelConfig& c, int layers, uint64_t seed) {
  const int64_t D = c.hidden_size, F = c.intermediate_size, Q = c.q_size(), KV = c.kv_size();
  const std::vector<std::tuple<std::string, int64_t, int64_t>> shapes = {
      {"qkv_proj", Q + 2 * KV, D}, {"o_proj", D, Q}, {"gate_up", 2 * F, D}, {"down_proj", D, F}};
  std::mt19937_64 rng(seed);
  std::vector<Weight> out;
  for (int l = 0; l < layers; ++l) {
    for (const auto& [name, n, k] : shapes) {
      Weight w{name, n, k, std::vector<float>(static_cast<size_t>(n * k))};
      std::uniform_real_distribution<float> u(-1.0f / std::sqrt(static_cast<float>(k)),
                                              1.0f / std::sqrt(static_cast<float>(k)));
      for (float& v : w.values) v = cpu::bf16_to_f32(cpu::f32_to_bf16(u(rng)));
      out.push_back(std::move(w));
    }
  }
  return out;
}

// Largest |out - ref| over the largest |ref|, ref in float64 of the operands the kernel
// multiplies (x rounded to bf16 where it rounds it), for the first `T` rows of the first weight.
double relative_error(GemmImpl& impl, const Weight& w, const std::vector<float>& x_in, int64_t T) {
  std::vector<float> out(static_cast<size_t>(T * w.n));
  impl.run(0, x_in.data(), T, out.data());
  std::vector<float> x = x_in;
  if (impl.rounds_activations_to_bf16()) {
    for (float& v : x) v = cpu::bf16_to_f32(cpu::f32_to_bf16(v));
  }
  double worst = 0, scale = 0;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < w.n; ++j) {
      double ref = 0;
      for (int64_t i = 0; i < w.k; ++i) {
        ref += static_cast<double>(x[static_cast<size_t>(t * w.k + i)]) *
               w.values[static_cast<size_t>(j * w.k + i)];
      }
      worst = std::max(worst, std::abs(out[static_cast<size_t>(t * w.n + j)] - ref));
      scale = std::max(scale, std::abs(ref));
    }
  }
  return worst / scale;
}

struct Result {
  std::string impl;
  std::string kernel;
  int rows = 0;
  double pass_ms = 0;  // one product with every weight, median
  double gflop_per_s = 0;
  double weight_gb_per_s = 0;
  double rel_error = 0;
  std::string skipped;  // why there is no figure
};

double pass_seconds(GemmImpl& impl, const std::vector<Weight>& weights, const float* x, int T,
                    std::vector<float>& out) {
  const auto start = Clock::now();
  for (size_t i = 0; i < weights.size(); ++i) impl.run(i, x, T, out.data());
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<Result> measure(const std::string& name, const Options& o,
                            const std::vector<Weight>& weights, const std::vector<float>& x) {
  std::vector<Result> results;
  std::unique_ptr<GemmImpl> impl = make_gemm_impl(name, o.threads);
  for (const Weight& w : weights) impl->add_weight(w.values.data(), w.n, w.k);
  double error = 0;
  try {
    error = relative_error(*impl, weights[0], x, 4);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnsupported) throw;
    for (const int T : o.rows) results.push_back({name, {}, T, 0, 0, 0, 0, e.what()});
    return results;
  }

  double params = 0;
  int64_t max_n = 0;
  for (const Weight& w : weights) {
    params += static_cast<double>(w.n) * static_cast<double>(w.k);
    max_n = std::max(max_n, w.n);
  }
  std::vector<float> out(
      static_cast<size_t>(*std::max_element(o.rows.begin(), o.rows.end()) * max_n));
  for (const int T : o.rows) {
    Result r{name, {}, T, 0, 0, 0, error, {}};
    // One product first: a library's slow fallback must not hold the run for minutes.
    const auto start = Clock::now();
    try {
      impl->run(0, x.data(), T, out.data());
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnsupported) throw;
      r.skipped = e.what();
      results.push_back(r);
      continue;
    }
    const double one = std::chrono::duration<double>(Clock::now() - start).count();
    const double projected =
        one * params / (static_cast<double>(weights[0].n) * static_cast<double>(weights[0].k));
    r.kernel = impl->chosen_kernel();
    if (projected > o.max_pass_seconds) {
      r.skipped = "one pass would take ~" + fmt(projected, 0) + " s (" +
                  fmt(2.0 * T * weights[0].n * weights[0].k / one / 1e9, 2) +
                  " GFLOP/s on the first product)";
      results.push_back(r);
      continue;
    }
    pass_seconds(*impl, weights, x.data(), T, out);  // warm-up: page faults, primitive creation
    std::vector<double> times;
    double total = 0;
    while (times.size() < 3 || total < o.min_seconds) {
      times.push_back(pass_seconds(*impl, weights, x.data(), T, out));
      total += times.back();
    }
    const double s = summarize(times)["median"].get<double>();
    r.pass_ms = 1000 * s;
    r.gflop_per_s = 2.0 * T * params / s / 1e9;
    r.weight_gb_per_s = params * impl->weight_bytes() / s / 1e9;
    results.push_back(r);
  }
  return results;
}

std::string percent(double v) {
  return fmt(100 * v, 0) + "%";
}

// The compute peak of the instruction an implementation's kernel multiplies with.
double peak(const Result& r, const MachineLimits& m) {
  const bool dot = r.kernel.find("vdpbf16ps") != std::string::npos;
  return dot && m.bf16_dot_gflop_per_s > 0 ? m.bf16_dot_gflop_per_s : m.gemm_gflop_per_s;
}

void print_results(const std::vector<Result>& results, const MachineLimits& m) {
  std::cout << std::left << std::setw(17) << "implementation" << std::right << std::setw(6)
            << "rows" << std::setw(11) << "pass ms" << std::setw(10) << "GFLOP/s" << std::setw(9)
            << "of peak" << std::setw(13) << "weight GB/s" << std::setw(8) << "of bw"
            << std::setw(10) << "rel err"
            << "  kernel\n";
  for (const Result& r : results) {
    std::cout << std::left << std::setw(17) << r.impl << std::right << std::setw(6) << r.rows;
    if (!r.skipped.empty()) {
      std::cout << "  skipped: " << r.skipped << "\n";
      continue;
    }
    std::cout << std::setw(11) << fmt(r.pass_ms, 2) << std::setw(10) << fmt(r.gflop_per_s, 1)
              << std::setw(9) << percent(r.gflop_per_s / peak(r, m)) << std::setw(13)
              << fmt(r.weight_gb_per_s, 1) << std::setw(8)
              << percent(r.weight_gb_per_s / m.bandwidth_gb_per_s) << std::setw(10)
              << std::scientific << std::setprecision(1) << r.rel_error << std::defaultfloat << "  "
              << r.kernel << "\n";
  }
}

int run(const Options& o) {
  const ModelConfig config = load_model_config(o.model);
  const std::vector<std::string> names = o.impls.empty() ? gemm_impl_names() : o.impls;
  const MachineLimits m = measure_machine();
  const std::vector<Weight> weights = layer_weights(config, o.layers, o.seed);
  int64_t max_k = 0;
  for (const Weight& w : weights) max_k = std::max(max_k, w.k);
  // At least the 4 rows relative_error checks.
  const int max_rows = std::max(4, *std::max_element(o.rows.begin(), o.rows.end()));
  std::vector<float> x(static_cast<size_t>(max_rows) * static_cast<size_t>(max_k));
  std::mt19937_64 rng(o.seed + 1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& v : x) v = u(rng);

  std::vector<Result> results;
  for (const std::string& name : names) {
    std::cerr << "gemm: " << name << "\n";
    for (Result& r : measure(name, o, weights, x)) results.push_back(std::move(r));
    // Library threads spin for a while after their last call; let them settle before the next.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

  std::cout << "gemm: " << o.layers << " layers of " << o.model << " (qkv_proj, o_proj, gate_up, "
            << "down_proj), " << (o.threads > 0 ? o.threads : m.threads) << " threads\n"
            << "limits: GEMM peak " << fmt(m.gemm_gflop_per_s, 1) << " GFLOP/s (FMA), "
            << fmt(m.bf16_dot_gflop_per_s, 1) << " GFLOP/s (vdpbf16ps; 0: none), bandwidth "
            << fmt(m.bandwidth_gb_per_s, 1) << " GB/s; " << gemm_libraries_info() << "\n";
  print_results(results, m);

  if (!o.json.empty()) {
    nlohmann::json report = new_report("gemm", {{"model", o.model},
                                                {"layers", o.layers},
                                                {"rows", o.rows},
                                                {"threads", o.threads},
                                                {"libraries", gemm_libraries_info()}});
    report["limits"] = {{"gemm_gflop_per_s", m.gemm_gflop_per_s},
                        {"bf16_dot_gflop_per_s", m.bf16_dot_gflop_per_s},
                        {"bandwidth_gb_per_s", m.bandwidth_gb_per_s},
                        {"threads", m.threads}};
    report["results"] = nlohmann::json::array();
    for (const Result& r : results) {
      nlohmann::json j = {
          {"impl", r.impl}, {"rows", r.rows}, {"kernel", r.kernel}, {"rel_error", r.rel_error}};
      if (r.skipped.empty()) {
        j["pass_ms"] = r.pass_ms;
        j["gflop_per_s"] = r.gflop_per_s;
        j["weight_gb_per_s"] = r.weight_gb_per_s;
        j["gemm_peak_fraction"] = r.gflop_per_s / peak(r, m);
        j["bandwidth_fraction"] = r.weight_gb_per_s / m.bandwidth_gb_per_s;
      } else {
        j["skipped"] = r.skipped;
      }
      report["results"].push_back(j);
    }
    write_report(o.json, report);
  }
  return 0;
}

}  // namespace

int gemm_main(int argc, char** argv) {
  Options o;
  po::options_description d(
      "llm-bench gemm: a model's matrix products, per implementation, against the machine's "
      "limits\nOptions");
  d.add_options()("help,h", "show this help")(
      "model", po::value(&o.model)->required(),
      "Hugging Face model directory (only config.json is read; weights are random)")(
      "layers", po::value(&o.layers)->default_value(o.layers),
      "decoder layers of weights to cycle through (2 tinyllama layers: 176 MB in bf16)")(
      "rows", po::value(&o.rows)->multitoken(), "activation rows per product (default 1 32 512)")(
      "impl", po::value(&o.impls)->multitoken(),
      "implementations to run (default: all in this build)")(
      "threads", po::value(&o.threads)->default_value(0), "threads; 0 = one per core")(
      "min-seconds", po::value(&o.min_seconds)->default_value(o.min_seconds),
      "measure each row count for at least this long (and at least 3 passes)")(
      "max-pass-seconds", po::value(&o.max_pass_seconds)->default_value(o.max_pass_seconds),
      "skip a row count whose pass would take longer (slow library fallbacks)")(
      "seed", po::value(&o.seed)->default_value(o.seed), "weights and activations seed")(
      "json", po::value(&o.json), "write the machine-readable result here");
  const auto check = [&] {
    if (o.layers < 1) throw po::error("--layers must be at least 1");
    if (o.rows.empty()) throw po::error("--rows needs at least one value");
    for (const int r : o.rows) {
      if (r < 1) throw po::error("--rows values must be at least 1");
    }
  };
  if (auto code = parse_command_line("llm-bench gemm", argc, argv, d, check)) return *code;
  return run_guarded("llm-bench gemm", [&] { return run(o); });
}

}  // namespace llm::bench
