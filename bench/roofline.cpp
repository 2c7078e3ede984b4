// llm-bench roofline: this machine's memory bandwidth and GEMM peak, and what they allow for a
// model: single-stream decode must read every weight once per token, so it cannot beat
// bandwidth / weight bytes; batched work cannot beat GEMM peak / FLOPs per token.
#include "bench/roofline.h"

#include <boost/program_options.hpp>
#include <iostream>
#include <string>

#include "bench/bench_report.h"
#include "bench/subcommands.h"
#include "cli/main_support.h"
#include "engine/model/checkpoint.h"
#include "kernels/cpu/packed_matmul.h"
#include "llm/error.h"

namespace po = boost::program_options;

namespace llm::bench {

DType runtime_dtype(const std::string& flag, const ModelConfig& c) {
  if (flag == "auto") return c.torch_dtype;
  const auto t = dtype_from_name(flag);
  if (!t || *t == DType::kI32 || dtype_is_quantized(*t)) {
    throw Error(ErrorCode::kInvalidArgument, "--dtype must be auto, f32, bf16 or f16, got '" + flag + "'");
  }
  return *t;
}

ModelCost model_cost(const ModelConfig& c, DType weights) {
  const int64_t D = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const int64_t Q = c.q_size(), KV = c.kv_size();
  const int64_t per_layer = D * (Q + 2 * KV) + Q * D + 3 * F * D;
  ModelCost cost;
  cost.matmul_params = c.num_layers * per_layer + V * D;  // + the output head (maybe tied)
  cost.head_params = V * D;
  cost.params =
      c.num_layers * (per_layer + 2 * D) + D + V * D + (c.tie_word_embeddings ? 0 : V * D);
  cost.checkpoint_bytes_per_param = static_cast<double>(dtype_size(c.torch_dtype));
  cost.runtime_bytes_per_param = static_cast<double>(dtype_size(weights));
  cost.bf16_dot = weights == DType::kBF16 && cpu::preferred_layout(cpu::WeightType::kBF16) ==
                                                 cpu::PackedLayout::kBf16Pairs;
  return cost;
}

ModelCost engine_cost(const Engine& engine, const std::string& dtype_flag) {
  const ModelConfig& mc = engine.model_config();
  ModelCost cost = model_cost(mc, runtime_dtype(dtype_flag, mc));
  const int64_t bytes = engine.stats().matmul_weight_bytes;
  if (bytes > 0 && cost.matmul_params > 0) {
    cost.runtime_bytes_per_param =
        static_cast<double>(bytes) / static_cast<double>(cost.matmul_params);
    cost.bf16_dot = cost.bf16_dot && cost.runtime_bytes_per_param >= 2;
  }
  return cost;
}

double gemm_peak(const ModelCost& cost, double fma_gflop_per_s, double bf16_dot_gflop_per_s) {
  return cost.bf16_dot && bf16_dot_gflop_per_s > 0 ? bf16_dot_gflop_per_s : fma_gflop_per_s;
}

nlohmann::json limits_json(const ModelCost& cost, const MachineLimits& m) {
  const double decode_bound = m.bandwidth_gb_per_s * 1e9 / cost.weight_bytes_per_token();
  const double gemm = gemm_peak(cost, m.gemm_gflop_per_s, m.bf16_dot_gflop_per_s);
  return {{"threads", m.threads},
          {"avx2_fma", m.avx2_fma},
          {"bandwidth_gb_per_s", m.bandwidth_gb_per_s},
          {"bandwidth_1t_gb_per_s", m.bandwidth_1t_gb_per_s},
          {"gemm_gflop_per_s", gemm},
          {"fma_gflop_per_s", m.gemm_gflop_per_s},
          {"bf16_dot_gflop_per_s", m.bf16_dot_gflop_per_s},
          {"gemm_instruction", cost.bf16_dot ? "vdpbf16ps" : "fma"},
          {"gemm_1t_gflop_per_s", m.gemm_1t_gflop_per_s},
          {"kernel_matmul_gflop_per_s", m.kernel_matmul_gflop_per_s},
          {"params", cost.params},
          {"matmul_params", cost.matmul_params},
          {"head_params", cost.head_params},
          {"weight_bytes_per_token", cost.weight_bytes_per_token()},
          {"checkpoint_bytes_per_param", cost.checkpoint_bytes_per_param},
          {"flops_per_token", cost.flops_per_token()},
          {"decode_bound_tokens_per_s", decode_bound},
          {"throughput_bound_tokens_per_s", gemm * 1e9 / cost.flops_per_token()}};
}

namespace {

struct Options {
  std::string model;
  std::string json;
  std::string dtype = "auto";
  int buffer_mib = 256;
};

int run(const Options& o) {
  const ModelConfig config = load_model_config(o.model);
  const DType weights = runtime_dtype(o.dtype, config);
  const ModelCost cost = model_cost(config, weights);
  const MachineLimits m = measure_machine(o.buffer_mib);
  const nlohmann::json limits = limits_json(cost, m);

  nlohmann::json report =
      new_report("roofline", {{"model", o.model},
                              {"buffer_mib", o.buffer_mib},
                              {"checkpoint_dtype", std::string(dtype_name(config.torch_dtype))},
                              {"dtype", std::string(dtype_name(weights))}});
  for (const auto& [k, v] : limits.items()) report[k] = v;
  report["limits"] = limits;

  print_table(
      "roofline: " + o.model + " on " + report["machine"]["cpu_model"].get<std::string>(),
      {{"parameters", std::to_string(cost.params)},
       {"weights read per token", fmt(cost.weight_bytes_per_token() / 1e6, 1) + " MB (" + std::string(dtype_name(weights)) + ")"},
       {"FLOPs per token", fmt(cost.flops_per_token() / 1e6, 1) + " MFLOP"},
       {"memory bandwidth", fmt(m.bandwidth_gb_per_s, 1) + " GB/s (best, " +
                                std::to_string(m.threads) + " threads), " +
                                fmt(m.bandwidth_1t_gb_per_s, 1) + " GB/s (1 thread)"},
       {"GEMM peak", fmt(m.gemm_gflop_per_s, 1) + " GFLOP/s (best, " + std::to_string(m.threads) +
                         " threads), " + fmt(m.gemm_1t_gflop_per_s, 1) + " GFLOP/s (1 thread)" +
                         (m.avx2_fma ? "" : " [no AVX2/FMA: portable loops]")},
       {"bf16 dot peak", m.bf16_dot_gflop_per_s > 0
                             ? fmt(m.bf16_dot_gflop_per_s, 1) + " GFLOP/s (vdpbf16ps, " +
                                   std::to_string(m.threads) + " threads)"
                             : std::string("none (no AVX-512 BF16)")},
       {"peak for these weights", fmt(limits["gemm_gflop_per_s"].get<double>(), 1) + " GFLOP/s (" +
                                      limits["gemm_instruction"].get<std::string>() + ")"},
       kernels_row(std::string(dtype_name(weights))),
       {"engine matmul kernel", fmt(m.kernel_matmul_gflop_per_s, 1) + " GFLOP/s (1 thread, bf16 weights, 64 rows)"},
       {"decode bound",
        fmt(limits["decode_bound_tokens_per_s"].get<double>(), 1) + " tokens/s per sequence"},
       {"throughput bound",
        fmt(limits["throughput_bound_tokens_per_s"].get<double>(), 1) + " tokens/s"}});
  if (!o.json.empty()) write_report(o.json, report);
  return 0;
}

}  // namespace

int roofline_main(int argc, char** argv) {
  Options o;
  po::options_description d("llm-bench roofline: machine limits and the model's bounds\nOptions");
  d.add_options()("help,h", "show this help")(
      "model", po::value(&o.model)->required(),
      "Hugging Face model directory (only config.json is read)")(
      "buffer-mib", po::value(&o.buffer_mib)->default_value(256),
      "bandwidth buffer size; keep it far above the last-level cache")(
      "dtype", po::value(&o.dtype)->default_value(o.dtype),
      "weight dtype the engine would hold: auto (the checkpoint's) | f32 | bf16 | f16")(
      "json", po::value(&o.json), "write the machine-readable result here");
  const auto check = [&] {
    if (o.buffer_mib < 16) throw po::error("--buffer-mib must be at least 16");
  };
  if (auto code = parse_command_line("llm-bench roofline", argc, argv, d, check)) return *code;
  return run_guarded("llm-bench roofline", [&] { return run(o); });
}

}  // namespace llm::bench
