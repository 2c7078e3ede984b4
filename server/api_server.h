// ApiServer: the OpenAI-compatible routes of llm-serve over an Engine: completions and chat
// completions (whole or streamed as SSE), models, health, tokenize/detokenize, metrics; API-key
// auth, OpenAI error objects, and one access-log line per request.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "llm/engine.h"
#include "server/http_server.h"
#include "server/openai_request.h"
#include "server/served_model.h"
#include "server/server_metrics.h"

namespace llm {

struct ApiServerOptions {
  std::string served_model_name;
  std::string api_key;  // empty: no auth
  RequestLimits limits;
  ChatOptions chat;  // --chat-template, --tool-call-parser, --reasoning-parser
};

class ApiServer {
 public:
  ApiServer(ApiServerOptions options, ServerMetrics& metrics);

  // Makes the model available; until then every route but /health and /metrics answers 503.
  void set_engine(std::shared_ptr<Engine> engine, const std::filesystem::path& model_dir);
  void set_ready() { ready_ = true; }
  std::shared_ptr<Engine> engine() const;

  net::awaitable<void> handle(HttpExchange& ex);

 private:
  net::awaitable<void> route(HttpExchange& ex, const std::string& path, RequestRecord& record);
  net::awaitable<void> generate(HttpExchange& ex, Endpoint endpoint, RequestRecord& record);
  net::awaitable<void> tokenize(HttpExchange& ex);
  net::awaitable<void> detokenize(HttpExchange& ex);
  net::awaitable<void> respond_json(HttpExchange& ex, int status, const nlohmann::ordered_json& body);

  ApiServerOptions options_;
  ServerMetrics& metrics_;
  mutable std::mutex mu_;
  std::shared_ptr<Engine> engine_;
  std::unique_ptr<ServedModel> model_;
  ModelContext ctx_;  // a copy of model_->context(), fixed once ready
  std::atomic<bool> ready_{false};
  std::atomic<int64_t> next_request_id_{1};
  int64_t created_ = 0;
};

}  // namespace llm
