// llm-bench throughput: offline throughput through the Engine, as vLLM's `bench throughput`:
// every request is queued at once and the engine batches as it likes (up to --max-num-seqs);
// each runs exactly --output-len tokens (ignore_eos), so the work is fixed and comparable.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <string>

#include "bench/bench_report.h"
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

struct Options {
  std::string model;
  EngineConfig runtime;  // --threads, --dtype
  int num_prompts = 64;
  int input_len = 128;
  int output_len = 128;
  int max_num_seqs = 64;
  int max_num_batched_tokens = 2048;
  int max_prefill_tokens_per_step = EngineConfig{}.max_prefill_tokens_per_step;
  uint64_t seed = 0;
  bool skip_probe = false;
  std::string json;
};

// Runs the requests to completion; returns the generated tokens.
int64_t drain(std::vector<std::shared_ptr<RequestStream>>& streams, Progress* progress) {
  int64_t tokens = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    while (auto ev = streams[i]->next()) {
      tokens += static_cast<int64_t>(ev->token_ids.size());
      if (ev->finish && *ev->finish == FinishReason::kAbort) {
        throw Error(ErrorCode::kInternal, "request " + streams[i]->request_id() + " was aborted");
      }
    }
    if (progress) progress->update(static_cast<int64_t>(i + 1));
  }
  return tokens;
}

int run(const Options& o) {
  // The probe runs first, alone, so the engine's threads do not disturb it.
  MachineLimits machine;
  if (!o.skip_probe) machine = measure_machine();

  EngineConfig cfg = o.runtime;
  cfg.model_dir = o.model;
  cfg.max_num_seqs = o.max_num_seqs;
  cfg.max_num_batched_tokens = o.max_num_batched_tokens;
  cfg.max_prefill_tokens_per_step = o.max_prefill_tokens_per_step;
  if (serve_if_worker_rank(cfg)) return 0;
  const auto engine = Engine::create(cfg);
  const ModelConfig& mc = engine->model_config();
  check_fits_context(mc, o.input_len, o.output_len);
  const int vocab = std::min(mc.vocab_size, engine->tokenizer().vocab_size());

  // Warm-up: the first step touches the workspace and the KV pool for the first time.
  {
    std::vector<std::shared_ptr<RequestStream>> warm = {engine->submit(fixed_length_request(
        random_prompts(1, std::min(o.input_len, 8), vocab, o.seed + 1)[0], 2))};
    drain(warm, nullptr);
  }

  auto prompts = random_prompts(o.num_prompts, o.input_len, vocab, o.seed);
  const EngineStats before = engine->stats();
  Progress progress("throughput", o.num_prompts, "requests");
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (auto& p : prompts)
    streams.push_back(engine->submit(fixed_length_request(std::move(p), o.output_len)));
  const int64_t output_tokens = drain(streams, &progress);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.done();
  const EngineStats after = engine->stats();

  const int64_t prompt_tokens = static_cast<int64_t>(o.num_prompts) * o.input_len;
  const double rps = o.num_prompts / elapsed;
  const double out_tps = static_cast<double>(output_tokens) / elapsed;
  const double total_tps = static_cast<double>(prompt_tokens + output_tokens) / elapsed;

  nlohmann::json report = new_report(
      "throughput", {{"model", o.model},
                     {"num_prompts", o.num_prompts},
                     {"input_len", o.input_len},
                     {"output_len", o.output_len},
                     {"max_num_seqs", o.max_num_seqs},
                     {"max_num_batched_tokens", o.max_num_batched_tokens},
                     {"max_prefill_tokens_per_step", o.max_prefill_tokens_per_step},
                     {"seed", o.seed},
                     {"checkpoint_dtype", std::string(dtype_name(mc.torch_dtype))},
                     {"dtype", std::string(dtype_name(runtime_dtype(o.runtime.dtype, mc)))},
                     {"threads", o.runtime.threads}});
  report["elapsed_s"] = elapsed;
  report["requests_per_s"] = rps;
  report["output_tokens_per_s"] = out_tps;
  report["total_tokens_per_s"] = total_tps;
  report["total_prompt_tokens"] = prompt_tokens;
  report["total_output_tokens"] = output_tokens;
  report["engine_steps"] = after.num_steps - before.num_steps;
  report["preemptions"] = after.num_preemptions - before.num_preemptions;

  Rows rows = {{"requests", std::to_string(o.num_prompts) + " x (" + std::to_string(o.input_len) +
                                " in + " + std::to_string(o.output_len) + " out)"},
               {"max concurrent sequences", std::to_string(o.max_num_seqs)},
               {"elapsed", fmt(elapsed, 3) + " s"},
               {"requests/s", fmt(rps, 3)},
               {"output tokens/s", fmt(out_tps, 1)},
               {"total tokens/s", fmt(total_tps, 1)},
               {"engine steps", std::to_string(after.num_steps - before.num_steps)},
               {"preemptions", std::to_string(after.num_preemptions - before.num_preemptions)}};
  if (!o.skip_probe) {
    const nlohmann::json limits = limits_json(engine_cost(*engine, o.runtime.dtype), machine);
    const double bound = limits["throughput_bound_tokens_per_s"].get<double>();
    report["limits"] = limits;
    // The fraction is taken on FLOPs, not tokens: every prompt token and every sampled token but
    // each request's last runs through the layers; only sampled rows run through the head.
    const ModelCost cost = engine_cost(*engine, o.runtime.dtype);
    const int64_t forward = prompt_tokens + output_tokens - o.num_prompts;
    const double flop_rate = cost.flops(forward, output_tokens) / elapsed;
    const double fraction = flop_rate / (limits["gemm_gflop_per_s"].get<double>() * 1e9);
    report["achieved_gflop_per_s"] = flop_rate / 1e9;
    report["throughput_bound_fraction"] = fraction;
    rows.push_back({"GEMM bound", fmt(bound, 1) + " tokens/s (" + fmt(flop_rate / 1e9, 1) +
                                      " GFLOP/s: " + fmt(100 * fraction, 1) + "% of peak)"});
  }
  print_table("throughput: " + o.model, rows);
  if (!o.json.empty()) write_report(o.json, report);
  return 0;
}

}  // namespace

int throughput_main(int argc, char** argv) {
  Options o;
  po::options_description d("llm-bench throughput: offline throughput through the Engine\nOptions");
  d.add_options()("help,h", "show this help")("model", po::value(&o.model)->required(),
                                              "Hugging Face model directory")(
      "num-prompts", po::value(&o.num_prompts)->default_value(o.num_prompts), "requests")(
      "input-len", po::value(&o.input_len)->default_value(o.input_len), "prompt tokens each")(
      "output-len", po::value(&o.output_len)->default_value(o.output_len), "generated tokens each")(
      "max-num-seqs", po::value(&o.max_num_seqs)->default_value(o.max_num_seqs),
      "sequences the engine runs at once")(
      "max-num-batched-tokens",
      po::value(&o.max_num_batched_tokens)->default_value(o.max_num_batched_tokens),
      "tokens per engine step")(
      "max-prefill-tokens-per-step",
      po::value(&o.max_prefill_tokens_per_step)->default_value(o.max_prefill_tokens_per_step),
      "prompt tokens per engine step (0: up to --max-num-batched-tokens)")(
      "seed", po::value(&o.seed)->default_value(0), "prompt seed")(
      "skip-probe", po::bool_switch(&o.skip_probe), "do not measure the machine's limits")(
      "json", po::value(&o.json), "write the machine-readable result here");
  add_runtime_options(d, o.runtime);
  const auto check = [&] {
    if (o.num_prompts < 1 || o.input_len < 1 || o.output_len < 1 || o.max_num_seqs < 1 ||
        o.max_num_batched_tokens < 1) {
      throw po::error(
          "--num-prompts, --input-len, --output-len, --max-num-seqs and "
          "--max-num-batched-tokens must be positive");
    }
    if (o.max_prefill_tokens_per_step < 0)
      throw po::error("--max-prefill-tokens-per-step must be >= 0");
  };
  if (auto code = parse_command_line("llm-bench throughput", argc, argv, d, check)) return *code;
  return run_guarded("llm-bench throughput", [&] { return run(o); });
}

}  // namespace llm::bench
