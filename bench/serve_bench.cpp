// llm-bench serve: a streaming load generator against a running llm-serve, as vLLM's
// `bench serve`: requests arrive as a Poisson process at --request-rate (or all at once for
// "inf"), at most --max-concurrency in flight, each asking for exactly --output-len tokens
// (ignore_eos). Reports TTFT, TPOT, ITL and end-to-end latency and the token throughput.
// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
// clang-format on
#include <boost/program_options.hpp>
#include <cmath>
#include <exception>
#include <iostream>
#include <limits>
#include <random>
#include <string>

#include "bench/bench_report.h"
#include "bench/progress.h"
#include "bench/serve_client.h"
#include "bench/subcommands.h"
#include "cli/main_support.h"
#include "llm/error.h"

namespace po = boost::program_options;
namespace net = boost::asio;

namespace llm::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string url;
  int num_prompts = 100;
  std::string request_rate = "inf";
  int max_concurrency = 0;  // 0: unlimited
  int input_len = 128;
  int output_len = 128;
  uint64_t seed = 0;
  int timeout_s = 600;
  std::string json;
  double rate = 0;  // parsed --request-rate; infinity for "inf"
};

// Words for the prompt text; the server's own tokenizer turns them into ids, so the prompts
// are valid for whatever model it serves.
std::string prompt_text(int words, uint64_t seed) {
  const std::vector<std::string> vocab = {
      "the",  "cat",  "sat",   "on",    "a",     "mat",    "and",    "dog",   "ran",   "to",
      "park", "with", "happy", "girl",  "named", "Lily",   "tree",   "big",   "red",   "ball",
      "sun",  "sky",  "blue",  "bird",  "sang",  "song",   "friend", "house", "door",  "opened",
      "one",  "day",  "time",  "there", "was",   "little", "boy",    "who",   "loved", "play"};
  std::mt19937_64 rng(seed);
  std::string text = "Once upon a time";
  for (int i = 0; i < words; ++i) text += " " + vocab[rng() % vocab.size()];
  return text;
}

struct Plan {
  std::vector<std::string> bodies;
  std::vector<double> arrival_s;  // offsets from the start
};

// Builds every request body before the clock starts: prompt i is the window of --input-len ids
// starting at offset i of one long tokenized text, so prompts differ from their first block on.
net::awaitable<Plan> make_plan(const ServeTarget& target, const Options& o) {
  const std::chrono::seconds timeout(o.timeout_s);
  nlohmann::json tok_req = nlohmann::json::object();
  // "prompt" for vLLM-style servers (ours), "content" and "add_special" for llama-server: each
  // ignores the others' fields, and both then put the BOS first (dropped below).
  tok_req["prompt"] = prompt_text(o.input_len + o.num_prompts + 16, o.seed);
  tok_req["content"] = tok_req["prompt"];
  tok_req["add_special"] = true;
  const nlohmann::json tok = co_await post_json(target, "/tokenize", tok_req.dump(), timeout);
  std::vector<int> ids = tok.at("tokens").get<std::vector<int>>();
  if (!ids.empty()) ids.erase(ids.begin());  // the BOS, which would make every prompt alike
  const int max_len = tok.value("max_model_len", 0);
  if (max_len > 0 && o.input_len + o.output_len > max_len) {
    throw Error(ErrorCode::kInvalidArgument, "--input-len " + std::to_string(o.input_len) +
                                                 " + --output-len " + std::to_string(o.output_len) +
                                                 " exceeds the served model's context of " +
                                                 std::to_string(max_len) + " tokens");
  }
  if (static_cast<int>(ids.size()) < o.input_len + 1) {
    throw Error(ErrorCode::kInternal, "/tokenize gave only " + std::to_string(ids.size()) + " ids");
  }
  Plan plan;
  std::mt19937_64 rng(o.seed);
  std::exponential_distribution<double> gap(std::isinf(o.rate) ? 1.0 : o.rate);
  double t = 0;
  const size_t windows = ids.size() - static_cast<size_t>(o.input_len) + 1;
  for (int i = 0; i < o.num_prompts; ++i) {
    const size_t start = static_cast<size_t>(i) % windows;
    nlohmann::json body = nlohmann::json::object();
    body["prompt"] =
        std::vector<int>(ids.begin() + static_cast<std::ptrdiff_t>(start),
                         ids.begin() + static_cast<std::ptrdiff_t>(start) + o.input_len);
    body["max_tokens"] = o.output_len;
    body["temperature"] = 0;
    body["ignore_eos"] = true;
    body["stream"] = true;
    body["stream_options"] = nlohmann::json::object();
    body["stream_options"]["include_usage"] = true;
    plan.bodies.push_back(body.dump());
    plan.arrival_s.push_back(t);
    if (!std::isinf(o.rate)) t += gap(rng);
  }
  co_return plan;
}

struct Run {
  std::vector<StreamResult> results;
  double duration_s = 0;
};

net::awaitable<void> worker(const ServeTarget& target, const Options& o, const Plan& plan,
                            Clock::time_point start, size_t& next, Run& run, Progress& progress,
                            int& finished) {
  const auto ex = co_await net::this_coro::executor;
  net::steady_timer timer(ex);
  while (next < plan.bodies.size()) {
    const size_t i = next++;
    const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(plan.arrival_s[i]));
    if (due > Clock::now()) {
      timer.expires_at(due);
      co_await timer.async_wait(net::use_awaitable);
    }
    run.results[i] =
        co_await stream_completion(target, plan.bodies[i], std::chrono::seconds(o.timeout_s));
    progress.update(++finished);
  }
}

net::awaitable<Run> run_benchmark(const ServeTarget& target, const Options& o, const Plan& plan) {
  const auto ex = co_await net::this_coro::executor;
  Run run;
  run.results.resize(plan.bodies.size());
  const int workers =
      o.max_concurrency > 0 ? std::min(o.max_concurrency, o.num_prompts) : o.num_prompts;
  Progress progress("serve", o.num_prompts, "requests");
  size_t next = 0;
  int finished = 0, running = workers;
  std::exception_ptr failure;
  net::steady_timer all_done(ex, Clock::time_point::max());
  const auto start = Clock::now();
  for (int w = 0; w < workers; ++w) {
    net::co_spawn(ex, worker(target, o, plan, start, next, run, progress, finished),
                  [&](std::exception_ptr e) {
                    if (e && !failure) failure = e;
                    if (--running == 0) all_done.cancel();
                  });
  }
  boost::system::error_code ec;
  if (running > 0) co_await all_done.async_wait(net::redirect_error(net::use_awaitable, ec));
  run.duration_s = std::chrono::duration<double>(Clock::now() - start).count();
  progress.done();
  if (failure) std::rethrow_exception(failure);
  co_return run;
}

nlohmann::json ms_summary(const std::vector<double>& seconds) {
  std::vector<double> ms;
  for (const double s : seconds) ms.push_back(1000 * s);
  return summarize(std::move(ms));
}

std::string row(const nlohmann::json& s) {
  return fmt(s["mean"].get<double>()) + " / " + fmt(s["median"].get<double>()) + " / " +
         fmt(s["p90"].get<double>()) + " / " + fmt(s["p99"].get<double>());
}

int run(const Options& o) {
  const ServeTarget target = parse_url(o.url);
  net::io_context io;
  Plan plan;
  Run result;
  std::exception_ptr failure;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        plan = co_await make_plan(target, o);
        result = co_await run_benchmark(target, o, plan);
      },
      [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);

  std::vector<double> ttft, tpot, itl, e2e;
  int completed = 0, failed = 0;
  int64_t input_tokens = 0, output_tokens = 0;
  nlohmann::json errors = nlohmann::json::array();
  for (const StreamResult& r : result.results) {
    if (!r.ok) {
      ++failed;
      if (errors.size() < 5) errors.push_back(r.error);
      continue;
    }
    ++completed;
    input_tokens += r.prompt_tokens;
    output_tokens += r.output_tokens;
    ttft.push_back(r.ttft_s);
    e2e.push_back(r.e2e_s);
    itl.insert(itl.end(), r.itl_s.begin(), r.itl_s.end());
    // Time per output token after the first, as vLLM defines TPOT.
    if (r.output_tokens > 1) tpot.push_back((r.e2e_s - r.ttft_s) / (r.output_tokens - 1));
  }
  const double d = result.duration_s;
  nlohmann::json config = {{"url", o.url},
                           {"num_prompts", o.num_prompts},
                           {"request_rate", o.request_rate},
                           {"max_concurrency", o.max_concurrency},
                           {"input_len", o.input_len},
                           {"output_len", o.output_len},
                           {"seed", o.seed}};
  nlohmann::json report = new_report("serve", std::move(config));
  report["completed"] = completed;
  report["failed"] = failed;
  report["duration_s"] = d;
  report["total_input_tokens"] = input_tokens;
  report["total_output_tokens"] = output_tokens;
  report["request_throughput"] = completed / d;
  report["output_tokens_per_s"] = static_cast<double>(output_tokens) / d;
  report["total_tokens_per_s"] = static_cast<double>(input_tokens + output_tokens) / d;
  report["ttft_ms"] = ms_summary(ttft);
  report["tpot_ms"] = ms_summary(tpot);
  report["itl_ms"] = ms_summary(itl);
  report["e2e_ms"] = ms_summary(e2e);
  report["errors"] = errors;

  print_table("serve: " + o.url + " (rate " + o.request_rate + ", concurrency " +
                  (o.max_concurrency > 0 ? std::to_string(o.max_concurrency) : "unlimited") + ")",
              {{"completed / failed", std::to_string(completed) + " / " + std::to_string(failed)},
               {"duration", fmt(d, 3) + " s"},
               {"requests/s", fmt(completed / d, 3)},
               {"output tokens/s", fmt(static_cast<double>(output_tokens) / d, 1)},
               {"total tokens/s", fmt(static_cast<double>(input_tokens + output_tokens) / d, 1)},
               {"TTFT ms (mean/median/p90/p99)", row(report["ttft_ms"])},
               {"TPOT ms", row(report["tpot_ms"])},
               {"ITL ms", row(report["itl_ms"])},
               {"end-to-end ms", row(report["e2e_ms"])}});
  for (const auto& e : errors)
    std::cerr << "llm-bench serve: a request failed: " << e.get<std::string>() << "\n";
  if (!o.json.empty()) write_report(o.json, report);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int serve_main(int argc, char** argv) {
  Options o;
  po::options_description d("llm-bench serve: streaming load against a running llm-serve\nOptions");
  d.add_options()("help,h", "show this help")("url", po::value(&o.url)->required(),
                                              "server address, http://HOST:PORT")(
      "num-prompts", po::value(&o.num_prompts)->default_value(o.num_prompts), "requests")(
      "request-rate", po::value(&o.request_rate)->default_value(o.request_rate),
      "mean arrivals per second (Poisson), or inf for all at once")(
      "max-concurrency", po::value(&o.max_concurrency)->default_value(0),
      "requests in flight at most (0: no limit)")(
      "input-len", po::value(&o.input_len)->default_value(o.input_len), "prompt tokens each")(
      "output-len", po::value(&o.output_len)->default_value(o.output_len), "generated tokens each")(
      "seed", po::value(&o.seed)->default_value(0), "prompt and arrival seed")(
      "timeout", po::value(&o.timeout_s)->default_value(o.timeout_s), "seconds per request")(
      "json", po::value(&o.json), "write the machine-readable result here");
  const auto check = [&] {
    if (o.num_prompts < 1 || o.input_len < 1 || o.output_len < 1 || o.max_concurrency < 0 ||
        o.timeout_s < 1) {
      throw po::error("--num-prompts, --input-len, --output-len and --timeout must be positive");
    }
    if (o.request_rate == "inf") {
      o.rate = std::numeric_limits<double>::infinity();
    } else {
      try {
        size_t used = 0;
        o.rate = std::stod(o.request_rate, &used);
        if (used != o.request_rate.size() || !(o.rate > 0) || std::isinf(o.rate))
          throw std::invalid_argument("");
      } catch (const std::logic_error&) {
        throw po::error("--request-rate must be a positive number or inf, not '" + o.request_rate +
                        "'");
      }
    }
    try {
      parse_url(o.url);
    } catch (const Error& e) {
      throw po::error(e.what());
    }
  };
  if (auto code = parse_command_line("llm-bench serve", argc, argv, d, check)) return *code;
  return run_guarded("llm-bench serve", [&] { return run(o); });
}

}  // namespace llm::bench
