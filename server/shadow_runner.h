// ShadowRunner: copies of a model's requests run on its shadow version, whose answers no
// client sees; each is compared with the primary's answer and the result goes to /metrics
// (llm_shadow_*). A copy never delays the primary: it is dropped, not queued, when the
// shadow already runs max_in_flight copies or its engine has requests waiting.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/http_server.h"
#include "server/model_version.h"
#include "server/openai_request.h"
#include "server/server_metrics.h"

namespace llm {

// The two halves of one comparison; whichever finishes second records it.
class ShadowPair {
 public:
  ShadowPair(ServerMetrics& metrics, std::string model, std::string version, std::string shadow,
             bool comparable)
      : metrics_(metrics),
        model_(std::move(model)),
        version_(std::move(version)),
        shadow_(std::move(shadow)),
        comparable_(comparable) {}
  // The first choice's token ids; nullopt when that side did not finish (aborted, failed).
  void primary_done(std::optional<std::vector<int32_t>> tokens);
  void shadow_done(std::optional<std::vector<int32_t>> tokens);

 private:
  void record_if_both();

  ServerMetrics& metrics_;
  std::string model_, version_, shadow_;
  bool comparable_;  // greedy or seeded: the two answers are expected to agree
  std::mutex mu_;
  int done_ = 0;
  std::optional<std::vector<int32_t>> primary_, shadow_tokens_;
};

class ShadowRunner {
 public:
  ShadowRunner(ServerMetrics& metrics, int max_in_flight)
      : metrics_(metrics), max_in_flight_(max_in_flight) {}

  // Starts a copy of BODY (the client's request for REQUESTED) on SHADOW, on executor EX;
  // MONITOR_LOGPROBS: its mean token logprob goes to /metrics too.
  // Returns the pair the primary completes, or null when the copy was dropped or refused
  // (already counted).
  std::shared_ptr<ShadowPair> start(net::any_io_executor ex, const ModelVersion& primary,
                                    std::shared_ptr<ModelVersion> shadow, Endpoint endpoint,
                                    const nlohmann::ordered_json& body,
                                    const std::string& requested, bool monitor_logprobs);

 private:
  ServerMetrics& metrics_;
  const int max_in_flight_;
  std::shared_ptr<std::atomic<int>> in_flight_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace llm
