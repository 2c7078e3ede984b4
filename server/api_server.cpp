#include "server/api_server.h"

#include <algorithm>
#include <chrono>

#include "llm/error.h"
#include "server/api_completion.h"
#include "server/log_line.h"
#include "server/openai_response.h"
#include "tokenizer/tokenizer.h"

namespace llm {
namespace {

using ojson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kUnsupported:  // a request feature this server cannot honour
      return 400;
    case ErrorCode::kResourceExhausted:
      return 429;
    default:
      return 500;
  }
}

}  // namespace

ApiServer::ApiServer(ApiServerOptions options, ServerMetrics& metrics)
    : options_(std::move(options)), metrics_(metrics),
      created_(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()) {}

void ApiServer::set_engine(std::shared_ptr<Engine> engine, const std::filesystem::path& model_dir) {
  auto model =
      std::make_unique<ServedModel>(*engine, model_dir, options_.served_model_name, options_.chat);
  std::lock_guard lock(mu_);
  ctx_ = model->context();
  ctx_.limits = options_.limits;
  model_ = std::move(model);
  engine_ = std::move(engine);
}

std::shared_ptr<Engine> ApiServer::engine() const {
  std::lock_guard lock(mu_);
  return engine_;
}

net::awaitable<void> ApiServer::respond_json(HttpExchange& ex, int status, const ojson& body) {
  co_await ex.respond(status, "application/json", body.dump(-1, ' ', false, ojson::error_handler_t::replace));
}

net::awaitable<void> ApiServer::handle(HttpExchange& ex) {
  const auto start = Clock::now();
  const std::string request_id = "req-" + std::to_string(next_request_id_++);
  ex.add_header("X-Request-Id", request_id);
  ex.on_reply([this](int status) { metrics_.record_http_status(status); });
  const auto& req = ex.request();
  const std::string path = request_path(req.target());
  RequestRecord record;
  record.finish_reason.clear();
  std::optional<ApiError> error;
  try {
    co_await route(ex, path, record);
  } catch (const ApiError& e) {
    error = e;
  } catch (const Error& e) {
    error = status_for(e.code()) == 500 ? ApiError(500, "internal error")
                                        : ApiError(status_for(e.code()), e.what(), e.param());
    if (status_for(e.code()) == 500) {
      log_line("llm-serve: internal error in ", request_id, " (", path, "): ", e.what());
    }
  } catch (const std::exception& e) {
    error = ApiError(500, "internal error");
    log_line("llm-serve: internal error in ", request_id, " (", path, "): ", e.what());
  }
  if (error) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (error->status() == 429) headers.emplace_back("Retry-After", "1");
    if (error->status() == 401) headers.emplace_back("WWW-Authenticate", "Bearer");
    co_await ex.respond(error->status(), "application/json", api_error_body(*error), headers);
  }
  if (ex.status() == 0) metrics_.record_http_status(0);  // the client left before any reply
  log_line("access: ", request_id, " ", req.method_string(), " ", path, " ", ex.status(),
           " prompt_tokens=", record.prompt_tokens, " completion_tokens=", record.completion_tokens,
           " latency_ms=", static_cast<int64_t>(seconds_since(start) * 1000));
}

net::awaitable<void> ApiServer::route(HttpExchange& ex, const std::string& path, RequestRecord& record) {
  const Route r = find_route(path);
  if (r == Route::kHealth) {
    check_method(r, ex.request(), path);
    if (!ready_) throw ApiError(503, "the model is loading");
    const ojson empty = ojson::object();
    co_await respond_json(ex, 200, empty);
    co_return;
  }
  if (r == Route::kMetrics) {
    check_method(r, ex.request(), path);
    auto engine = this->engine();
    std::optional<EngineStats> stats;
    if (engine) stats = engine->stats();
    co_await ex.respond(200, "text/plain; version=0.0.4", metrics_.render(stats ? &*stats : nullptr));
    co_return;
  }
  if (route_needs_auth(r) && !options_.api_key.empty()) {
    const auto auth = ex.request()[http::field::authorization];
    if (auth != "Bearer " + options_.api_key) throw ApiError(401, "missing or invalid API key");
  }
  if (!ready_) throw ApiError(503, "the model is loading");
  // 405 after auth and readiness, so an unauthenticated client learns nothing about methods.
  check_method(r, ex.request(), path);
  if (r == Route::kModels) {
    const ojson model = {{"id", options_.served_model_name}, {"object", "model"}, {"created", created_},
                         {"owned_by", "llm-server"}, {"max_model_len", ctx_.max_model_len}};
    // Bodies are built before co_await: GCC 12 miscompiles braced temporaries across it.
    const ojson body = {{"object", "list"}, {"data", ojson::array({model})}};
    co_await respond_json(ex, 200, body);
  } else if (r == Route::kCompletions) {
    co_await generate(ex, Endpoint::kCompletions, record);
  } else if (r == Route::kChatCompletions) {
    co_await generate(ex, Endpoint::kChatCompletions, record);
  } else if (r == Route::kTokenize) {
    co_await tokenize(ex);
  } else {
    co_await detokenize(ex);
  }
}

net::awaitable<void> ApiServer::generate(HttpExchange& ex, Endpoint endpoint, RequestRecord& record) {
  const auto start = Clock::now();
  auto engine = this->engine();
  const ApiRequest r = parse_api_request(endpoint, parse_json_body(ex.request().body()), ctx_);

  // Woken by each event and by the client's socket becoming readable (a hang-up), never by a
  // timer: an idle stream costs nothing while the engine works on it.
  auto signal = std::make_shared<AsyncSignal>(co_await net::this_coro::executor);
  ApiCompletion job(*engine, r, *ctx_.tokenizer, [signal] { signal->notify(); });
  ex.on_peer_readable([signal] { signal->notify(); });
  StreamEncoder encoder(r, *ctx_.tokenizer, job.id(), job.created());
  bool client_gone = false;
  if (r.stream) client_gone = !(co_await ex.start_stream()) || !(co_await ex.send(encoder.start()));

  while (!client_gone) {
    std::string frames;
    const bool done = job.drain([&](size_t p, const CompletionEvent& ev) {
      if (record.ttft_seconds < 0 && !ev.token_ids.empty()) record.ttft_seconds = seconds_since(start);
      if (r.stream) frames += encoder.event(p, ev);
    });
    if (r.stream && !frames.empty() && !(co_await ex.send(frames))) client_gone = true;
    if (done || client_gone) break;
    co_await signal->wait();
    if (ex.peer_closed()) client_gone = true;
  }
  const Usage usage = job.builder().usage();
  record.prompt_tokens = usage.prompt_tokens;
  record.completion_tokens = usage.completion_tokens;
  record.queue_seconds = job.queue_seconds();
  record.finish_reason = client_gone ? "abort" : job.first_finish();
  // Counted before the last bytes go out: a client that reads its reply and then scrapes
  // /metrics must find this request there.
  record.e2e_seconds = seconds_since(start);
  metrics_.record_request(record);
  if (client_gone) {
    // The client hung up: stop generating at once so its KV blocks go back to the pool.
    job.abort();
    ex.close_after();
  } else if (r.stream) {
    if (co_await ex.send(encoder.finish())) co_await ex.finish_stream();
  } else {
    const ojson body = job.builder().body();
    co_await respond_json(ex, 200, body);
  }
}

net::awaitable<void> ApiServer::tokenize(HttpExchange& ex) {
  const std::vector<int32_t> ids = tokenize_request_ids(parse_json_body(ex.request().body()), ctx_);
  const ojson reply = {{"count", ids.size()}, {"max_model_len", ctx_.max_model_len}, {"tokens", ids}};
  co_await respond_json(ex, 200, reply);
}

net::awaitable<void> ApiServer::detokenize(HttpExchange& ex) {
  const std::vector<int32_t> ids = detokenize_request_ids(parse_json_body(ex.request().body()), ctx_);
  const ojson reply = {{"prompt", ctx_.tokenizer->decode(ids)}};
  co_await respond_json(ex, 200, reply);
}

}  // namespace llm
