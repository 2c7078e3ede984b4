// llm-bench latency: one fixed batch of --batch-size sequences, prefilled together and then
// decoded in lockstep, as llama.cpp's `llama-bench` separates pp (prompt processing) from tg
// (token generation). Prefill time is submit to the last sequence's first token; a decode step
// is the time from there to the last token, divided by the output_len - 1 steps it took.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "bench/bench_report.h"
#include "bench/machine_probe.h"
#include "bench/progress.h"
#include "bench/roofline.h"
#include "bench/subcommands.h"
#include "bench/workload.h"
#include "cli/engine_options.h"
#include "cli/main_support.h"
#include "llm/engine.h"
#include "llm/error.h"
#include "tokenizer/tokenizer.h"

namespace po = boost::program_options;

namespace llm::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string model;
  EngineConfig runtime;  // --threads, --dtype
  int batch_size = 1;
  int input_len = 32;
  int output_len = 128;
  int num_iters = 3;
  int warmup_iters = 1;
  uint64_t seed = 0;
  bool skip_probe = false;
  std::string guided_json;  // every sequence constrained by this JSON schema
  std::string json;
};

struct Iteration {
  double prefill_s = 0;
  double decode_s = 0;
  double total_s = 0;
  double bandwidth_gb_per_s = 0;  // measured right before this iteration (0: --skip-probe)
  double gemm_gflop_per_s = 0;
};

// Next event of a stream, which must come: the engine owes every request a finish.
CompletionEvent next_event(RequestStream& s) {
  auto ev = s.next();
  if (!ev) throw Error(ErrorCode::kInternal, "request " + s.request_id() + " ended without output");
  if (ev->finish && *ev->finish == FinishReason::kAbort) {
    throw Error(ErrorCode::kInternal, "request " + s.request_id() + " was aborted");
  }
  return *ev;
}

Iteration run_batch(Engine& engine, const Options& o, int vocab, uint64_t seed) {
  auto prompts = random_prompts(o.batch_size, o.input_len, vocab, seed);
  std::vector<std::shared_ptr<RequestStream>> streams;
  const auto start = Clock::now();
  for (auto& p : prompts) {
    Request r = fixed_length_request(std::move(p), o.output_len);
    if (!o.guided_json.empty()) {
      // EOS ends a constrained output where it is complete, so the schema itself must keep
      // the sequence going for --output-len tokens (e.g. an array with a large minItems).
      r.params.ignore_eos = false;
      r.params.structured_output =
          StructuredOutput{StructuredOutput::Kind::kJsonSchema, o.guided_json, "--guided-json"};
    }
    streams.push_back(engine.submit(std::move(r)));
  }
  // A sequence's first event carries its first token, sampled right after its prefill.
  std::vector<bool> finished(streams.size());
  for (size_t i = 0; i < streams.size(); ++i)
    finished[i] = next_event(*streams[i]).finish.has_value();
  const auto prefilled = Clock::now();
  for (size_t i = 0; i < streams.size(); ++i) {
    while (!finished[i]) finished[i] = next_event(*streams[i]).finish.has_value();
  }
  const auto end = Clock::now();
  return {std::chrono::duration<double>(prefilled - start).count(),
          std::chrono::duration<double>(end - prefilled).count(),
          std::chrono::duration<double>(end - start).count()};
}

double median(std::vector<double> v) {
  return summarize(std::move(v))["median"].get<double>();
}

int run(const Options& o) {
  MachineLimits machine;
  if (!o.skip_probe) machine = measure_machine();

  EngineConfig cfg = o.runtime;
  cfg.model_dir = o.model;
  cfg.max_num_seqs = o.batch_size;
  // The whole batch's prompts fit one step and no prompt cap splits them: the batch is
  // prefilled together. No bigger: the step's activations are sized by it, and they count in
  // the resident set this benchmark reports.
  cfg.max_num_batched_tokens = std::max(o.batch_size, o.batch_size * o.input_len);
  cfg.max_prefill_tokens_per_step = 0;
  // Prompts are fresh each iteration anyway; this keeps cached blocks from hiding any reuse.
  cfg.enable_prefix_caching = false;
  if (serve_if_worker_rank(cfg)) return 0;
  const auto engine = Engine::create(cfg);
  const ModelConfig& mc = engine->model_config();
  check_fits_context(mc, o.input_len, o.output_len);
  const int vocab = std::min(mc.vocab_size, engine->tokenizer().vocab_size());

  for (int i = 0; i < o.warmup_iters; ++i) run_batch(*engine, o, vocab, o.seed + 1000 + i);
  std::optional<LimitsProbe> probe;
  if (!o.skip_probe) probe.emplace();
  const ModelCost weights_cost = engine_cost(*engine, o.runtime.dtype);
  std::vector<Iteration> iters;
  const EngineStats before = engine->stats();
  Progress progress("latency", o.num_iters, "iterations");
  for (int i = 0; i < o.num_iters; ++i) {
    double bandwidth = 0, gemm = 0;
    if (probe) {
      bandwidth = probe->bandwidth_gb_per_s(3);
      gemm = gemm_peak(weights_cost, probe->gemm_gflop_per_s(3),
                       weights_cost.bf16_dot ? probe->bf16_dot_gflop_per_s(3) : 0);
    }
    Iteration it = run_batch(*engine, o, vocab, o.seed + i);
    it.bandwidth_gb_per_s = bandwidth;
    it.gemm_gflop_per_s = gemm;
    iters.push_back(it);
    progress.update(i + 1);
  }
  progress.done();
  const EngineStats after = engine->stats();

  std::vector<double> prefill, step_ms, total;
  for (const Iteration& it : iters) {
    prefill.push_back(it.prefill_s);
    step_ms.push_back(1000 * it.decode_s / (o.output_len - 1));
    total.push_back(it.total_s);
  }
  const double prefill_s = median(prefill), decode_step_ms = median(step_ms);
  const double prefill_tps = static_cast<double>(o.batch_size) * o.input_len / prefill_s;
  const double decode_tps = 1000.0 / decode_step_ms;  // per sequence

  nlohmann::json report =
      new_report("latency", {{"model", o.model},
                             {"batch_size", o.batch_size},
                             {"input_len", o.input_len},
                             {"output_len", o.output_len},
                             {"num_iters", o.num_iters},
                             {"warmup_iters", o.warmup_iters},
                             {"seed", o.seed},
                             {"checkpoint_dtype", std::string(dtype_name(mc.torch_dtype))},
                             {"dtype", std::string(dtype_name(runtime_dtype(o.runtime.dtype, mc)))},
                             {"threads", o.runtime.threads}});
  const std::string dtype(dtype_name(runtime_dtype(o.runtime.dtype, mc)));
  report["kernels"] = cpu_kernels(dtype);
  // Memory as it stands after the run: the weights as held (quantized ones at their size) and
  // the process's resident set (weights, KV pool, activations; the checkpoint's mapping is gone).
  const EngineStats stats = engine->stats();
  report["weight_bytes"] = stats.weight_bytes;
  report["matmul_weight_bytes"] = stats.matmul_weight_bytes;
  report["kv_cache_bytes"] = stats.kv_cache_bytes;
  report["resident_bytes"] = resident_bytes();
  report["prefill_s"] = prefill_s;
  report["prefill_tokens_per_s"] = prefill_tps;
  report["decode_step_ms"] = decode_step_ms;
  report["decode_tokens_per_s"] = decode_tps;
  report["decode_batch_tokens_per_s"] = decode_tps * o.batch_size;
  report["latency_s"] = summarize(total);
  report["iterations"] = nlohmann::json::array();
  for (const Iteration& it : iters) {
    report["iterations"].push_back({{"prefill_s", it.prefill_s},
                                    {"decode_s", it.decode_s},
                                    {"total_s", it.total_s},
                                    {"bandwidth_gb_per_s", it.bandwidth_gb_per_s},
                                    {"gemm_gflop_per_s", it.gemm_gflop_per_s}});
  }
  report["engine_steps"] = after.num_steps - before.num_steps;
  const double mask_ms_per_step = 1000 *
                                  (after.grammar_mask_seconds - before.grammar_mask_seconds) /
                                  std::max<int64_t>(1, after.num_steps - before.num_steps);
  report["guided_json"] = o.guided_json;
  report["grammar_mask_ms_per_step"] = mask_ms_per_step;
  report["preemptions"] = after.num_preemptions - before.num_preemptions;

  Rows rows = {{"batch", std::to_string(o.batch_size) + " x (" + std::to_string(o.input_len) +
                             " in + " + std::to_string(o.output_len) + " out), median of " +
                             std::to_string(o.num_iters)},
               {"prefill", fmt(prefill_s * 1000, 2) + " ms (" + fmt(prefill_tps, 1) + " tokens/s)"},
               {"decode step", fmt(decode_step_ms, 3) + " ms"},
               {"decode tokens/s", fmt(decode_tps, 1) + " per sequence, " +
                                       fmt(decode_tps * o.batch_size, 1) + " for the batch"},
               {"request latency", fmt(median(total), 3) + " s"},
               {"grammar masks", o.guided_json.empty()
                                     ? std::string("none (unconstrained)")
                                     : fmt(mask_ms_per_step, 3) + " ms per step (" +
                                           fmt(100 * mask_ms_per_step / decode_step_ms, 1) +
                                           "% of a decode step)"},
               kernels_row(dtype)};
  if (!o.skip_probe) {
    const nlohmann::json limits = limits_json(engine_cost(*engine, o.runtime.dtype), machine);
    const double bw = limits["decode_bound_tokens_per_s"].get<double>();
    // Prefill samples one token per sequence: only that row pays for the output head.
    const ModelCost cost = engine_cost(*engine, o.runtime.dtype);
    const double prefill_flops =
        cost.flops(static_cast<int64_t>(o.batch_size) * o.input_len, o.batch_size);
    const double gemm = limits["gemm_gflop_per_s"].get<double>() * 1e9 /
                        (prefill_flops / (static_cast<double>(o.batch_size) * o.input_len));
    report["limits"] = limits;
    report["prefill_bound_tokens_per_s"] = gemm;
    report["decode_bound_fraction"] = decode_tps / bw;
    report["prefill_gemm_bound_fraction"] = prefill_tps / gemm;
    // The same fractions with each iteration divided by the limits measured just before it,
    // then the median: on a shared machine the limits drift between the start and the run.
    std::vector<double> decode_paired, decode_gemm_paired, prefill_paired;
    for (const Iteration& it : iters) {
      const double step_s = it.decode_s / (o.output_len - 1);
      const double bytes_per_step = cost.weight_bytes_per_token();
      const double flops_per_step = cost.flops(o.batch_size, o.batch_size);
      decode_paired.push_back(bytes_per_step / step_s / (it.bandwidth_gb_per_s * 1e9));
      decode_gemm_paired.push_back(flops_per_step / step_s / (it.gemm_gflop_per_s * 1e9));
      prefill_paired.push_back(prefill_flops / it.prefill_s / (it.gemm_gflop_per_s * 1e9));
    }
    report["decode_bound_fraction_paired"] = median(decode_paired);
    report["decode_gemm_bound_fraction_paired"] = median(decode_gemm_paired);
    report["prefill_gemm_bound_fraction_paired"] = median(prefill_paired);
    rows.push_back({"bandwidth bound", fmt(bw, 1) + " tokens/s per sequence (" +
                                           fmt(100 * decode_tps / bw, 1) + "% reached; " +
                                           fmt(100 * median(decode_paired), 1) +
                                           "% against each iteration's own probe)"});
    rows.push_back({"GEMM bound", fmt(gemm, 1) + " tokens/s (prefill reached " +
                                      fmt(100 * prefill_tps / gemm, 2) + "%; " +
                                      fmt(100 * median(prefill_paired), 1) + "% paired)"});
    rows.push_back({"decode vs GEMM peak", fmt(100 * median(decode_gemm_paired), 1) +
                                               "% (paired; batch decode is FMA-bound)"});
  }
  print_table("latency: " + o.model, rows);
  if (!o.json.empty()) write_report(o.json, report);
  return 0;
}

}  // namespace

int latency_main(int argc, char** argv) {
  Options o;
  po::options_description d(
      "llm-bench latency: prefill and decode-step time of a fixed batch\nOptions");
  d.add_options()("help,h", "show this help")("model", po::value(&o.model)->required(),
                                              "Hugging Face model directory")(
      "batch-size", po::value(&o.batch_size)->default_value(o.batch_size),
      "sequences in the batch")("input-len", po::value(&o.input_len)->default_value(o.input_len),
                                "prompt tokens each")(
      "output-len", po::value(&o.output_len)->default_value(o.output_len),
      "generated tokens each (>= 2)")("num-iters",
                                      po::value(&o.num_iters)->default_value(o.num_iters),
                                      "measured batches (the median is reported)")(
      "warmup-iters", po::value(&o.warmup_iters)->default_value(o.warmup_iters),
      "unmeasured batches first")("seed", po::value(&o.seed)->default_value(0), "prompt seed")(
      "skip-probe", po::bool_switch(&o.skip_probe), "do not measure the machine's limits")(
      "guided-json", po::value(&o.guided_json),
      "constrain every sequence by this JSON schema (text), which must not let the output end "
      "within --output-len tokens")("json", po::value(&o.json),
                                    "write the machine-readable result here");
  add_runtime_options(d, o.runtime);
  const auto check = [&] {
    if (o.batch_size < 1 || o.input_len < 1 || o.num_iters < 1 || o.warmup_iters < 0) {
      throw po::error("--batch-size, --input-len and --num-iters must be positive");
    }
    if (o.output_len < 2) throw po::error("--output-len must be at least 2 (one decode step)");
  };
  if (auto code = parse_command_line("llm-bench latency", argc, argv, d, check)) return *code;
  return run_guarded("llm-bench latency", [&] { return run(o); });
}

}  // namespace llm::bench
