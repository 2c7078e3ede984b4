#include "server/server_metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace llm {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
const prometheus::Histogram::BucketBoundaries kLengthBuckets = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
const prometheus::Histogram::BucketBoundaries kLogprobBuckets = {
    -12, -10, -8, -6, -5, -4, -3, -2.5, -2, -1.5, -1, -0.75, -0.5, -0.25, -0.1, -0.01};
const prometheus::Histogram::BucketBoundaries kTokenBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5};

}  // namespace

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      running_(BuildGauge()
                   .Name("llm_num_requests_running")
                   .Help("Sequences holding KV blocks")
                   .Register(*registry_)
                   .Add({})),
      waiting_(BuildGauge()
                   .Name("llm_num_requests_waiting")
                   .Help("Sequences waiting to be scheduled")
                   .Register(*registry_)
                   .Add({})),
      kv_usage_(BuildGauge()
                    .Name("llm_kv_cache_usage_perc")
                    .Help("Fraction of KV blocks in use (0 to 1)")
                    .Register(*registry_)
                    .Add({})),
      weight_bytes_(
          BuildGauge()
              .Name("llm_model_weight_bytes")
              .Help("Bytes of model weights this process holds, quantized ones at their real size")
              .Register(*registry_)
              .Add({})),
      prefix_hit_rate_(
          BuildGauge()
              .Name("llm_prefix_cache_hit_rate")
              .Help("Prompt tokens found in the prefix cache / prompt tokens looked up")
              .Register(*registry_)
              .Add({})),
      preemptions_(BuildGauge()
                       .Name("llm_num_preemptions")
                       .Help("Sequences preempted since start")
                       .Register(*registry_)
                       .Add({})),
      prompt_tokens_(BuildCounter()
                         .Name("llm_prompt_tokens_total")
                         .Help("Prompt tokens of finished requests")
                         .Register(*registry_)
                         .Add({})),
      generation_tokens_(BuildCounter()
                             .Name("llm_generation_tokens_total")
                             .Help("Generated tokens of finished requests")
                             .Register(*registry_)
                             .Add({})),
      finished_(BuildCounter()
                    .Name("llm_request_success_total")
                    .Help("Finished requests by finish reason")
                    .Register(*registry_)),
      http_(BuildCounter()
                .Name("llm_http_requests_total")
                .Help("HTTP responses by status code")
                .Register(*registry_)),
      ttft_(BuildHistogram()
                .Name("llm_time_to_first_token_seconds")
                .Help("Time to first token")
                .Register(*registry_)
                .Add({}, kLatencyBuckets)),
      tpot_(BuildHistogram()
                .Name("llm_time_per_output_token_seconds")
                .Help("Mean time per output token after the first")
                .Register(*registry_)
                .Add({}, kTokenBuckets)),
      e2e_(BuildHistogram()
               .Name("llm_e2e_request_latency_seconds")
               .Help("End-to-end request latency")
               .Register(*registry_)
               .Add({}, kLatencyBuckets)),
      queue_(BuildHistogram()
                 .Name("llm_request_queue_time_seconds")
                 .Help("Time from arrival to first scheduling")
                 .Register(*registry_)
                 .Add({}, kLatencyBuckets)),
      model_finished_(BuildCounter()
                          .Name("llm_model_requests_total")
                          .Help("Finished requests by model, version and finish reason")
                          .Register(*registry_)),
      model_ttft_(BuildHistogram()
                      .Name("llm_model_time_to_first_token_seconds")
                      .Help("Time to first token by model and version")
                      .Register(*registry_)),
      model_tpot_(BuildHistogram()
                      .Name("llm_model_time_per_output_token_seconds")
                      .Help("Mean time per output token after the first, by model and version")
                      .Register(*registry_)),
      model_e2e_(BuildHistogram()
                     .Name("llm_model_e2e_request_latency_seconds")
                     .Help("End-to-end request latency by model and version")
                     .Register(*registry_)),
      model_output_tokens_(BuildHistogram()
                               .Name("llm_model_output_tokens")
                               .Help("Generated tokens per request by model and version")
                               .Register(*registry_)),
      model_mean_logprob_(
          BuildHistogram()
              .Name("llm_model_mean_token_logprob")
              .Help("Mean log-probability of the generated tokens per request (monitor_logprobs)")
              .Register(*registry_)),
      model_running_(BuildGauge()
                         .Name("llm_model_num_requests_running")
                         .Help("Sequences holding KV blocks, by model and version")
                         .Register(*registry_)),
      model_waiting_(BuildGauge()
                         .Name("llm_model_num_requests_waiting")
                         .Help("Sequences waiting to be scheduled, by model and version")
                         .Register(*registry_)),
      model_kv_usage_(BuildGauge()
                          .Name("llm_model_kv_cache_usage_perc")
                          .Help("Fraction of the version's KV blocks in use (0 to 1)")
                          .Register(*registry_)),
      shadow_requests_(BuildCounter()
                           .Name("llm_shadow_requests_total")
                           .Help("Shadow copies by result: compared, not_compared, dropped, failed")
                           .Register(*registry_)),
      shadow_exact_(BuildCounter()
                        .Name("llm_shadow_exact_match_total")
                        .Help("Compared shadow copies whose output equals the primary's")
                        .Register(*registry_)),
      shadow_divergence_(
          BuildHistogram()
              .Name("llm_shadow_first_divergence_tokens")
              .Help("Compared shadow copies that differ: the first token position where they do")
              .Register(*registry_)) {}

void ServerMetrics::record_request(const RequestRecord& r) {
  if (!r.shadow) record_totals(r);
  if (r.model.empty()) return;
  const prometheus::Labels labels = {{"model", r.model}, {"version", r.version}};
  model_finished_
      .Add({{"model", r.model}, {"version", r.version}, {"finished_reason", r.finish_reason}})
      .Increment();
  model_e2e_.Add(labels, kLatencyBuckets).Observe(r.e2e_seconds);
  model_output_tokens_.Add(labels, kLengthBuckets).Observe(r.completion_tokens);
  if (r.mean_logprob) model_mean_logprob_.Add(labels, kLogprobBuckets).Observe(*r.mean_logprob);
  if (r.ttft_seconds >= 0) {
    model_ttft_.Add(labels, kLatencyBuckets).Observe(r.ttft_seconds);
    if (r.completion_tokens > 1) {
      model_tpot_.Add(labels, kTokenBuckets)
          .Observe((r.e2e_seconds - r.ttft_seconds) / (r.completion_tokens - 1));
    }
  }
}

void ServerMetrics::record_totals(const RequestRecord& r) {
  prompt_tokens_.Increment(r.prompt_tokens);
  generation_tokens_.Increment(r.completion_tokens);
  finished_.Add({{"finished_reason", r.finish_reason}}).Increment();
  e2e_.Observe(r.e2e_seconds);
  queue_.Observe(r.queue_seconds);
  if (r.ttft_seconds >= 0) {
    ttft_.Observe(r.ttft_seconds);
    if (r.completion_tokens > 1) tpot_.Observe((r.e2e_seconds - r.ttft_seconds) / (r.completion_tokens - 1));
  }
}

void ServerMetrics::record_shadow(const std::string& model, const std::string& version,
                                  const std::string& shadow, ShadowResult result, bool exact_match,
                                  int first_divergence) {
  static const char* const kNames[] = {"compared", "not_compared", "dropped", "failed"};
  const prometheus::Labels pair = {
      {"model", model}, {"version", version}, {"shadow_version", shadow}};
  prometheus::Labels labels = pair;
  labels["result"] = kNames[static_cast<int>(result)];
  shadow_requests_.Add(labels).Increment();
  if (result != ShadowResult::kCompared) return;
  prometheus::Counter& exact = shadow_exact_.Add(pair);  // present (at 0) once anything compared
  if (exact_match) {
    exact.Increment();
  } else {
    shadow_divergence_.Add(pair, kLengthBuckets).Observe(first_divergence);
  }
}

void ServerMetrics::record_http_status(int status) { http_.Add({{"status", std::to_string(status)}}).Increment(); }

std::string ServerMetrics::render(const std::vector<VersionStats>& versions) {
  // The unlabelled gauges sum every loaded version (one model: its engine's own figures).
  EngineStats sum;
  for (const VersionStats& v : versions) {
    const EngineStats& s = v.stats;
    sum.running += s.running;
    sum.waiting += s.waiting;
    sum.kv_blocks_total += s.kv_blocks_total;
    sum.kv_blocks_used += s.kv_blocks_used;
    sum.prefix_cache_queries += s.prefix_cache_queries;
    sum.prefix_cache_hits += s.prefix_cache_hits;
    sum.num_preemptions += s.num_preemptions;
    sum.weight_bytes += s.weight_bytes;
    const prometheus::Labels labels = {{"model", v.model}, {"version", v.version}};
    model_running_.Add(labels).Set(s.running);
    model_waiting_.Add(labels).Set(s.waiting);
    model_kv_usage_.Add(labels).Set(
        s.kv_blocks_total ? static_cast<double>(s.kv_blocks_used) / s.kv_blocks_total : 0.0);
  }
  running_.Set(sum.running);
  waiting_.Set(sum.waiting);
  kv_usage_.Set(sum.kv_blocks_total ? static_cast<double>(sum.kv_blocks_used) / sum.kv_blocks_total
                                    : 0.0);
  prefix_hit_rate_.Set(sum.prefix_cache_hit_rate());
  preemptions_.Set(static_cast<double>(sum.num_preemptions));
  weight_bytes_.Set(static_cast<double>(sum.weight_bytes));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace llm
