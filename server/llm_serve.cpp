// llm-serve: the OpenAI-compatible HTTP server. Binds first (so /health answers 503 while the
// models load), loads the model (--model) or every version of every model a config file
// declares (--config), each warmed up and checked, then serves until SIGINT/SIGTERM.
#include <boost/program_options.hpp>
#include <csignal>
#include <filesystem>
#include <thread>

#include "cli/chat_options.h"
#include "cli/engine_options.h"
#include "cli/main_support.h"
#include "cli/model_config.h"
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
  std::string model, config, host = "127.0.0.1", served_model_name, api_key, admin_key;
  int max_shadow_in_flight = 8;
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
  d.add_options()("help,h", "show this help")("model", po::value(&o.model),
                                              "Hugging Face model directory, or a GGUF file")(
      "config", po::value(&o.config),
      "JSON file declaring several models and versions (canary weights, shadow, golden checks; "
      "see cli/model_config.h); instead of --model")(
      "admin-key", po::value(&o.admin_key),
      "enable the admin API (/admin/models/...: load, unload, weights, promote, rollback, "
      "shadow) for 'Authorization: Bearer KEY'")(
      "max-shadow-in-flight",
      po::value(&o.max_shadow_in_flight)->default_value(o.max_shadow_in_flight),
      "shadow copies running at once; more are dropped, never queued")(
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
  if (o.model.empty() == o.config.empty()) throw po::error("give either --model or --config");
  if (!o.config.empty() && !o.served_model_name.empty())
    throw po::error("--served-model-name names the --model; a --config names its models itself");
  const auto at_least = llm::require_at_least;
  at_least("max-shadow-in-flight", o.max_shadow_in_flight, 0);
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

// The models to serve: the config file's, or --model as one model of one version.
std::vector<llm::ModelSpec> model_specs(const Options& o) {
  const llm::VersionDefaults defaults{o.engine, o.chat, {}};
  if (!o.config.empty()) return llm::read_model_config(o.config, defaults);
  llm::ModelSpec m;
  m.name = o.served_model_name.empty() ? llm::default_served_name(o.model) : o.served_model_name;
  llm::VersionSpec v;
  v.version = "default";
  v.model = o.model;
  v.engine = o.engine.resolve(o.model);
  v.chat = o.chat.options;
  v.weight = 1;
  m.versions.push_back(std::move(v));
  return {std::move(m)};
}

int run(const Options& o) {
  // Ranks 1.. of a multi-process tensor-parallel model only compute: no HTTP server here.
  if (!o.model.empty() && llm::serve_if_worker_rank(o.engine.resolve(o.model))) return 0;
  llm::net::io_context ioc;
  llm::ServerMetrics metrics;
  const llm::RequestLimits request_limits =
      llm::effective_request_limits(o.limits, o.engine.config.max_num_seqs);
  llm::ModelRouter router(model_specs(o));  // a bad config stops here, before anything binds
  std::unique_ptr<llm::AdminApi> admin;
  if (!o.admin_key.empty()) {
    const llm::VersionDefaults defaults{o.engine, o.chat, {}};
    admin = std::make_unique<llm::AdminApi>(
        router, o.admin_key, request_limits,
        [defaults, max_queue = o.max_queue](const nlohmann::ordered_json& v,
                                            const std::string& where) {
          llm::VersionSpec spec = llm::parse_version_spec(v, defaults, where);
          spec.engine.max_queue = max_queue;
          return spec;
        });
  }
  llm::ApiServerOptions api_opts{o.api_key, o.admin_key, request_limits, o.max_shadow_in_flight};
  llm::ApiServer api(api_opts, metrics, router, std::move(admin));
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

  try {
    // One version at a time: each gets its memory budget from what the ones before left.
    for (const llm::ModelSpec& m : router.models()) {
      for (llm::VersionSpec v : m.versions) {
        v.engine.max_queue = o.max_queue;
        router.begin_load(m.name, v.version);
        auto loaded = llm::ModelVersion::load(m, v, request_limits);
        llm::log_line("llm-serve: loaded '", m.name, "' version '", v.version, "' on ",
                      loaded->engine().backend_name(), " with ",
                      loaded->engine().stats().kv_blocks_total, " KV blocks",
                      v.shadow ? " (shadow)" : "");
        router.finish_load(std::move(loaded));
      }
    }
  } catch (...) {
    stop_io();
    throw;
  }
  api.set_ready();
  llm::log_line("llm-serve: ready");

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
    for (const auto& v : router.loaded()) v->engine().abort_all();
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
