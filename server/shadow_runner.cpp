#include "server/shadow_runner.h"

#include <algorithm>
#include <chrono>

#include "server/api_completion.h"
#include "server/log_line.h"
#include "tokenizer/tokenizer.h"

namespace llm {
namespace {

using Clock = std::chrono::steady_clock;

// Everything one copy needs, owned by its coroutine.
struct ShadowJob {
  std::shared_ptr<ModelVersion> version;
  ApiRequest request;
  std::unique_ptr<ApiCompletion> completion;
  std::shared_ptr<AsyncSignal> signal;
  std::shared_ptr<ShadowPair> pair;
  std::shared_ptr<std::atomic<int>> in_flight;
  Clock::time_point start;
};

net::awaitable<void> run_shadow(std::shared_ptr<ShadowJob> job, ServerMetrics& metrics) {
  std::vector<int32_t> tokens;
  RequestRecord record;
  record.finish_reason.clear();
  while (true) {
    const bool done = job->completion->drain([&](size_t p, const CompletionEvent& ev) {
      if (record.ttft_seconds < 0 && !ev.token_ids.empty())
        record.ttft_seconds = std::chrono::duration<double>(Clock::now() - job->start).count();
      if (p == 0 && ev.index == 0)
        tokens.insert(tokens.end(), ev.token_ids.begin(), ev.token_ids.end());
    });
    if (done) break;
    co_await job->signal->wait();
  }
  const Usage usage = job->completion->builder().usage();
  record.prompt_tokens = usage.prompt_tokens;
  record.completion_tokens = usage.completion_tokens;
  record.queue_seconds = job->completion->queue_seconds();
  record.finish_reason = job->completion->first_finish();
  record.e2e_seconds = std::chrono::duration<double>(Clock::now() - job->start).count();
  record.model = job->version->model_name();
  record.version = job->version->version();
  record.shadow = true;
  if (job->request.params.track_logprob && usage.completion_tokens > 0)
    record.mean_logprob = usage.sum_logprob / usage.completion_tokens;
  metrics.record_request(record);
  job->completion.reset();
  job->in_flight->fetch_sub(1);
  job->pair->shadow_done(std::move(tokens));
}

}  // namespace

void ShadowPair::primary_done(std::optional<std::vector<int32_t>> tokens) {
  std::lock_guard lock(mu_);
  primary_ = std::move(tokens);
  ++done_;
  record_if_both();
}

void ShadowPair::shadow_done(std::optional<std::vector<int32_t>> tokens) {
  std::lock_guard lock(mu_);
  shadow_tokens_ = std::move(tokens);
  ++done_;
  record_if_both();
}

void ShadowPair::record_if_both() {
  if (done_ < 2) return;
  if (!comparable_ || !primary_ || !shadow_tokens_) {
    metrics_.record_shadow(model_, version_, shadow_, ShadowResult::kNotCompared);
    return;
  }
  const auto& a = *primary_;
  const auto& b = *shadow_tokens_;
  const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  const bool exact = ia == a.end() && ib == b.end();
  metrics_.record_shadow(model_, version_, shadow_, ShadowResult::kCompared, exact,
                         static_cast<int>(ia - a.begin()));
}

std::shared_ptr<ShadowPair> ShadowRunner::start(
    net::any_io_executor ex, const ModelVersion& primary, std::shared_ptr<ModelVersion> shadow,
    Endpoint endpoint, const nlohmann::ordered_json& body, const std::string& requested,
    bool monitor_logprobs) {
  const std::string model = primary.model_name(), version = primary.version();
  if (in_flight_->load() >= max_in_flight_ || shadow->engine().stats().waiting > 0) {
    metrics_.record_shadow(model, version, shadow->version(), ShadowResult::kDropped);
    return nullptr;
  }
  auto job = std::make_shared<ShadowJob>();
  job->start = Clock::now();
  try {
    ModelContext ctx = shadow->context();
    ctx.served_model_name = requested;
    job->request = parse_api_request(endpoint, body, ctx);
    job->request.stream = false;
    job->request.params.track_logprob = monitor_logprobs;
    job->signal = std::make_shared<AsyncSignal>(ex);
    job->completion = std::make_unique<ApiCompletion>(
        shadow->engine(), job->request, *ctx.tokenizer, [s = job->signal] { s->notify(); });
  } catch (const std::exception& e) {
    // The primary accepted what the shadow refuses (another template, a shorter context):
    // worth a log line, never the client's problem.
    log_line("llm-serve: shadow ", model, ":", shadow->version(), " refused a copy: ", e.what());
    metrics_.record_shadow(model, version, shadow->version(), ShadowResult::kFailed);
    return nullptr;
  }
  const SamplingParams& p = job->request.params;
  job->pair = std::make_shared<ShadowPair>(metrics_, model, version, shadow->version(),
                                           p.temperature == 0.0 || p.seed.has_value());
  job->version = std::move(shadow);
  job->in_flight = in_flight_;
  in_flight_->fetch_add(1);
  auto pair = job->pair;
  net::co_spawn(ex, run_shadow(std::move(job), metrics_), net::detached);
  return pair;
}

}  // namespace llm
