// ApiServer: the OpenAI-compatible routes of llm-serve over the models a ModelRouter holds:
// completions and chat completions (whole or streamed as SSE) routed by "model", models,
// health, tokenize/detokenize, metrics; shadow copies; the admin API; API-key auth, OpenAI
// error objects, and one access-log line per request.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "llm/engine.h"
#include "server/admin_api.h"
#include "server/http_server.h"
#include "server/model_router.h"
#include "server/openai_request.h"
#include "server/server_metrics.h"
#include "server/shadow_runner.h"

namespace llm {

struct ApiServerOptions {
  std::string api_key;    // empty: no auth
  std::string admin_key;  // empty: no admin API (/admin/... answers 404)
  RequestLimits limits;
  int max_shadow_in_flight = 8;  // shadow copies running at once, per server
};

class ApiServer {
 public:
  // ROUTER holds the models; ADMIN (may be null) answers /admin/....
  ApiServer(ApiServerOptions options, ServerMetrics& metrics, ModelRouter& router,
            std::unique_ptr<AdminApi> admin = nullptr);
  ~ApiServer();

  // Until then every route but /health and /metrics answers 503 (the models are loading).
  void set_ready() { ready_ = true; }

  net::awaitable<void> handle(HttpExchange& ex);

 private:
  net::awaitable<void> route(HttpExchange& ex, const std::string& path, RequestRecord& record);
  net::awaitable<void> generate(HttpExchange& ex, Endpoint endpoint, RequestRecord& record);
  net::awaitable<void> tokenize(HttpExchange& ex, bool detokenize);
  net::awaitable<void> list_models(HttpExchange& ex);
  net::awaitable<void> respond_json(HttpExchange& ex, int status, const nlohmann::ordered_json& body);
  // The model a request names ("model"; the only model when absent) and the version it goes to.
  RoutedRequest route_request(HttpExchange& ex, const nlohmann::ordered_json& body,
                              std::string& requested) const;

  ApiServerOptions options_;
  ServerMetrics& metrics_;
  ModelRouter& router_;
  std::unique_ptr<AdminApi> admin_;
  ShadowRunner shadows_;
  std::atomic<bool> ready_{false};
  std::atomic<int64_t> next_request_id_{1};
  int64_t created_ = 0;
};

}  // namespace llm
