// ServerMetrics: the Prometheus metrics of llm-serve (prometheus-cpp registry, text format).
// Engine gauges are refreshed from Engine::stats() at scrape time; request counters and latency
// histograms are recorded as requests finish.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "llm/engine.h"

namespace llm {

// One finished request, as the metrics see it.
struct RequestRecord {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  double queue_seconds = 0;
  double ttft_seconds = -1;  // < 0: no token was produced
  double e2e_seconds = 0;
  std::string finish_reason;  // "stop", "length", "abort", "error"
  std::string model, version;  // what answered it (empty: no model was reached)
  bool shadow = false;  // a shadow copy: counted for its version only, not in the server totals
  std::optional<double> mean_logprob;  // monitor_logprobs: the answer's mean token logprob
};

// One loaded version's engine counters, as /metrics labels them.
struct VersionStats {
  std::string model, version;
  EngineStats stats;
};

// A shadow copy's fate: compared with the primary's answer (greedy or seeded requests),
// not compared (sampled without a seed: no answer to expect), dropped (the shadow's queue was
// full or busy) or failed (the shadow refused or aborted it).
enum class ShadowResult { kCompared, kNotCompared, kDropped, kFailed };

class ServerMetrics {
 public:
  ServerMetrics();
  void record_request(const RequestRecord& r);
  void record_http_status(int status);
  // A shadow copy of a request to MODEL/VERSION sent to SHADOW; for kCompared, whether the
  // outputs matched exactly and else the first token position where they differ.
  void record_shadow(const std::string& model, const std::string& version,
                     const std::string& shadow, ShadowResult result, bool exact_match = false,
                     int first_divergence = 0);
  // Prometheus text exposition: the engine gauges per version, and summed over them.
  std::string render(const std::vector<VersionStats>& versions);

 private:
  void record_totals(const RequestRecord& r);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge& running_;
  prometheus::Gauge& waiting_;
  prometheus::Gauge& kv_usage_;
  prometheus::Gauge& weight_bytes_;
  prometheus::Gauge& prefix_hit_rate_;
  prometheus::Gauge& preemptions_;
  prometheus::Counter& prompt_tokens_;
  prometheus::Counter& generation_tokens_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Counter>& http_;
  prometheus::Histogram& ttft_;
  prometheus::Histogram& tpot_;
  prometheus::Histogram& e2e_;
  prometheus::Histogram& queue_;
  // Per model and version: what the watcher of a canary compares.
  prometheus::Family<prometheus::Counter>& model_finished_;
  prometheus::Family<prometheus::Histogram>& model_ttft_;
  prometheus::Family<prometheus::Histogram>& model_tpot_;
  prometheus::Family<prometheus::Histogram>& model_e2e_;
  prometheus::Family<prometheus::Histogram>& model_output_tokens_;
  prometheus::Family<prometheus::Histogram>& model_mean_logprob_;
  prometheus::Family<prometheus::Gauge>& model_running_;
  prometheus::Family<prometheus::Gauge>& model_waiting_;
  prometheus::Family<prometheus::Gauge>& model_kv_usage_;
  prometheus::Family<prometheus::Counter>& shadow_requests_;
  prometheus::Family<prometheus::Counter>& shadow_exact_;
  prometheus::Family<prometheus::Histogram>& shadow_divergence_;
};

}  // namespace llm
