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
#include <string>

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
};

class ServerMetrics {
 public:
  ServerMetrics();
  void record_request(const RequestRecord& r);
  void record_http_status(int status);
  // Prometheus text exposition, with the engine gauges taken from `stats` (if any).
  std::string render(const EngineStats* stats);

 private:
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
};

}  // namespace llm
