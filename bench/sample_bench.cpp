// llm-bench sample: host time of one Sampler::sample() call at large vocabularies, per parameter
// set. Every decode step pays it once per sequence that is not plain greedy, on the engine's one
// loop thread, so at 128k vocabularies it can rival a small model's step.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_report.h"
#include "bench/subcommands.h"
#include "cli/main_support.h"
#include "engine/sampler.h"

namespace po = boost::program_options;

namespace llm::bench {
namespace {

struct Options {
  std::string vocabs = "128256,151936";  // Llama 3, Qwen 2
  int iters = 40;
  int rows = 8;  // distinct logit rows, cycled, so one row's cache state does not flatter it
  uint64_t seed = 0;
  std::string json;
};

struct ParamSet {
  std::string name;
  SamplingParams params;
};

std::vector<ParamSet> param_sets() {
  std::vector<ParamSet> sets(5);
  sets[0].name = "temperature 0.8";
  sets[0].params.temperature = 0.8;
  sets[1].name = "temperature 0.8, top_p 0.95";
  sets[1].params.temperature = 0.8;
  sets[1].params.top_p = 0.95;
  sets[2].name = "temperature 0.7, top_k 50, top_p 0.9";
  sets[2].params.temperature = 0.7;
  sets[2].params.top_k = 50;
  sets[2].params.top_p = 0.9;
  sets[3].name = "temperature 1.0, min_p 0.05";
  sets[3].params.min_p = 0.05;
  sets[4].name = "temperature 0.8, top_p 0.95, repetition 1.1";
  sets[4].params.temperature = 0.8;
  sets[4].params.top_p = 0.95;
  sets[4].params.repetition_penalty = 1.1;
  return sets;
}

// Logits shaped like a language model's: a broad normal bulk and a few tokens well above it.
std::vector<float> make_logits(int vocab, std::mt19937_64& rng) {
  std::normal_distribution<float> bulk(0.0f, 3.0f);
  std::vector<float> v(static_cast<size_t>(vocab));
  for (float& x : v) x = bulk(rng);
  std::uniform_int_distribution<int> id(0, vocab - 1);
  std::uniform_real_distribution<float> lift(6.0f, 14.0f);
  for (int i = 0; i < 32; ++i) v[static_cast<size_t>(id(rng))] += lift(rng);
  return v;
}

int run(const Options& o) {
  std::vector<int> vocabs;
  std::stringstream ss(o.vocabs);
  for (std::string item; std::getline(ss, item, ',');) vocabs.push_back(std::stoi(item));
  nlohmann::json report =
      new_report("sample", {{"vocabs", o.vocabs}, {"iters", o.iters}, {"seed", o.seed}});
  report["results"] = nlohmann::json::array();
  Rows rows;
  for (int vocab : vocabs) {
    std::mt19937_64 data_rng(o.seed + static_cast<uint64_t>(vocab));
    std::vector<std::vector<float>> logits;
    for (int r = 0; r < o.rows; ++r) logits.push_back(make_logits(vocab, data_rng));
    std::vector<int32_t> prompt(200), output(64);
    std::uniform_int_distribution<int32_t> id(0, vocab - 1);
    for (int32_t& t : prompt) t = id(data_rng);
    for (int32_t& t : output) t = id(data_rng);
    const SamplingContext ctx{prompt, output, {}};
    Sampler sampler(vocab);
    for (const ParamSet& set : param_sets()) {
      std::mt19937_64 rng(o.seed);
      int64_t checksum = 0;  // keeps the calls observable
      for (int r = 0; r < o.rows; ++r)
        checksum += sampler.sample(logits[static_cast<size_t>(r)], set.params, ctx, rng, nullptr);
      std::vector<double> us;
      for (int i = 0; i < o.iters; ++i) {
        const auto start = std::chrono::steady_clock::now();
        checksum +=
            sampler.sample(logits[static_cast<size_t>(i % o.rows)], set.params, ctx, rng, nullptr);
        us.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count());
      }
      const nlohmann::json s = summarize(us);
      rows.push_back(
          {"vocab " + std::to_string(vocab) + ", " + set.name,
           fmt(s["median"].get<double>(), 1) + " us (p90 " + fmt(s["p90"].get<double>(), 1) + ")"});
      report["results"].push_back(
          {{"vocab", vocab}, {"params", set.name}, {"us", s}, {"checksum", checksum}});
    }
  }
  print_table("sample: host time per Sampler::sample() call (median)", rows);
  if (!o.json.empty()) write_report(o.json, report);
  return 0;
}

}  // namespace

int sample_main(int argc, char** argv) {
  Options o;
  po::options_description d("llm-bench sample: host time of one sampling call\nOptions");
  d.add_options()("help,h", "show this help")(
      "vocab", po::value(&o.vocabs)->default_value(o.vocabs), "vocabulary sizes, comma-separated")(
      "iters", po::value(&o.iters)->default_value(o.iters), "timed calls per parameter set")(
      "seed", po::value(&o.seed)->default_value(o.seed), "logits and sampling seed")(
      "json", po::value(&o.json), "write the machine-readable result here");
  const auto check = [&] {
    if (o.iters < 1) throw po::error("--iters must be positive");
    std::stringstream ss(o.vocabs);
    for (std::string item; std::getline(ss, item, ',');) {
      if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos ||
          item.size() > 8 || std::stoi(item) < 2) {
        throw po::error("--vocab must be comma-separated sizes >= 2, got '" + o.vocabs + "'");
      }
    }
  };
  if (auto code = parse_command_line("llm-bench sample", argc, argv, d, check)) return *code;
  return run_guarded("llm-bench sample", [&] { return run(o); });
}

}  // namespace llm::bench
