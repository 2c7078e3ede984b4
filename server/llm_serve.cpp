// llm-serve: the OpenAI-compatible HTTP server. Binds first (so /health answers 503 while the
// model loads), loads the model, runs a warm-up generation, then serves until SIGINT/SIGTERM.
#include <boost/program_options.hpp>
#include <csignal>
#include <filesystem>
#include <thread>

#include "cli/chat_options.h"
#include "cli/engine_options.h"
#include "cli/main_support.h"
#include "cli/request_limit_options.h"
#include "llm/engine.h"
#include "llm/error.h"
#include "server/api_server.h"
#include "server/http_server.h"
#include "server/log_line.h"
#include "server/server_metrics.h"
#include "tokenizer/tokenizer.h"

namespace po = boost::program_options;

namespace {

struct Options {
  std::string model, host = "127.0.0.1", served_model_name, api_key;
  int port = 8000;
  int threads = 2;
  int shutdown_grace = 30;
  llm::EngineFlags engine;
  int max_queue = 256;
  int64_t max_body_bytes = 4 << 20;
  int64_t max_header_bytes = 16 << 10;
  int max_connections = 512;
  int64_t idle_timeout = 60;
  llm::RequestLimits limits;
  llm::ChatFlags chat;
};

po::options_description make_options(Options& o) {
  po::options_description d("llm-serve: OpenAI-compatible HTTP server\nOptions (each also read from LLM_<NAME>, e.g. LLM_MAX_NUM_SEQS)");
  d.add_options()("help,h", "show this help")("model", po::value(&o.model)->required(),
                                              "Hugging Face model directory, or a GGUF file")(
      "host", po::value(&o.host)->default_value(o.host), "address to listen on")(
      "port", po::value(&o.port)->default_value(o.port), "port (0: any free port)")(
      "served-model-name", po::value(&o.served_model_name),
      "model name in the API (default: the directory name)")(
      "api-key", po::value(&o.api_key),
      "require 'Authorization: Bearer KEY' (all routes but /health, /metrics)")(
      "max-queue", po::value(&o.max_queue)->default_value(o.max_queue),
      "waiting requests before 429 (0: no limit)")(
      "max-body-bytes", po::value(&o.max_body_bytes)->default_value(o.max_body_bytes),
      "largest request body (413 beyond)")(
      "max-header-bytes", po::value(&o.max_header_bytes)->default_value(o.max_header_bytes),
      "largest request line + headers (431 beyond)")(
      "max-connections", po::value(&o.max_connections)->default_value(o.max_connections),
      "open connections; more get 503 and are closed")(
      "idle-timeout", po::value(&o.idle_timeout)->default_value(o.idle_timeout),
      "seconds a connection may idle or take to send a request; then it is closed")(
      "http-threads", po::value(&o.threads)->default_value(o.threads), "HTTP io threads")(
      "shutdown-grace", po::value(&o.shutdown_grace)->default_value(o.shutdown_grace),
      "seconds in-flight requests get to finish on SIGTERM");
  llm::add_chat_options(d, o.chat);
  llm::add_request_limit_options(d, o.limits);
  llm::add_engine_options(d, o.engine);
  return d;
}

void check(Options& o) {
  const auto at_least = llm::require_at_least;
  at_least("max-queue", o.max_queue, 0);
  at_least("max-body-bytes", o.max_body_bytes, 1);
  // Below this not even a plain POST with its usual headers fits.
  at_least("max-header-bytes", o.max_header_bytes, 256);
  if (o.max_header_bytes > (int64_t{1} << 30)) {
    throw po::error("--max-header-bytes must be <= 1073741824");
  }
  at_least("max-connections", o.max_connections, 1);
  at_least("idle-timeout", o.idle_timeout, 1);
  llm::check_request_limits(o.limits);
  llm::check_chat_flags(o.chat);
}

// Generates one token so the first real request does not pay for cold caches.
void warm_up(llm::Engine& engine) {
  llm::Request r;
  r.prompt_token_ids = engine.tokenizer().encode("Hello");
  r.params.max_tokens = 1;
  r.params.temperature = 0;
  auto stream = engine.submit(r);
  while (stream->next()) {
  }
}

int run(const Options& o) {
  // Ranks 1.. of a multi-process tensor-parallel model only compute: no HTTP server here.
  if (llm::serve_if_worker_rank(o.engine.resolve(o.model))) return 0;
  llm::net::io_context ioc;
  llm::ServerMetrics metrics;
  const llm::RequestLimits request_limits =
      llm::effective_request_limits(o.limits, o.engine.config.max_num_seqs);
  llm::ApiServerOptions api_opts{o.served_model_name, o.api_key, request_limits, o.chat.options};
  if (api_opts.served_model_name.empty()) api_opts.served_model_name = llm::default_served_name(o.model);
  llm::ApiServer api(api_opts, metrics);
  llm::HttpLimits limits;
  limits.max_body_bytes = static_cast<size_t>(o.max_body_bytes);
  limits.max_header_bytes = static_cast<size_t>(o.max_header_bytes);
  limits.max_connections = o.max_connections;
  limits.idle_timeout = std::chrono::seconds(o.idle_timeout);
  llm::HttpServer server(ioc, o.host, static_cast<uint16_t>(o.port), limits,
                         [&api](llm::HttpExchange& ex) { return api.handle(ex); });
  server.start();
  llm::log_line("llm-serve: listening on http://", o.host, ":", server.port());

  std::vector<std::thread> io;
  auto work = llm::net::make_work_guard(ioc);
  for (int i = 0; i < std::max(1, o.threads); ++i) io.emplace_back([&ioc] { ioc.run(); });
  auto stop_io = [&] {
    work.reset();
    ioc.stop();
    for (auto& t : io) t.join();
  };

  std::atomic<bool> signalled{false};
  llm::net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) signalled = true;
  });

  std::shared_ptr<llm::Engine> engine;
  try {
    llm::EngineConfig cfg = o.engine.resolve(o.model);
    cfg.max_queue = o.max_queue;
    engine = llm::Engine::create(cfg);
    api.set_engine(engine, o.model);
    warm_up(*engine);
  } catch (...) {
    stop_io();
    throw;
  }
  api.set_ready();
  llm::log_line("llm-serve: ready, serving '", api_opts.served_model_name, "' on ", engine->backend_name(),
                " with ", engine->stats().kv_blocks_total, " KV blocks");

  while (!signalled) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  llm::log_line("llm-serve: shutting down; waiting up to ", o.shutdown_grace, " s for ",
                server.active_requests(), " request(s)");
  server.stop_accepting();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.shutdown_grace);
  while (server.active_requests() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (server.active_requests() > 0) {
    llm::log_line("llm-serve: grace period over, aborting ", server.active_requests(), " request(s)");
    engine->abort_all();
    const auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (server.active_requests() > 0 && std::chrono::steady_clock::now() < hard) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  stop_io();
  llm::log_line("llm-serve: stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const po::options_description desc = make_options(o);
  if (auto code = llm::parse_command_line("llm-serve", argc, argv, desc, [&o] { check(o); })) {
    return *code;
  }
  // A client that hangs up must not kill the server with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  return llm::run_guarded("llm-serve", [&] { return run(o); });
}
