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

ApiServer::ApiServer(ApiServerOptions options, ServerMetrics& metrics, ModelRouter& router,
                     std::unique_ptr<AdminApi> admin)
    : options_(std::move(options)),
      metrics_(metrics),
      router_(router),
      admin_(std::move(admin)),
      shadows_(metrics, options_.max_shadow_in_flight),
      created_(std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count()) {}

ApiServer::~ApiServer() = default;

RoutedRequest ApiServer::route_request(HttpExchange& ex, const ojson& body,
                                       std::string& requested) const {
  const ojson* model = body.is_object() && body.contains("model") ? &body["model"] : nullptr;
  if (model && !model->is_string()) throw ApiError(400, "'model' must be a string", "model");
  if (model) {
    requested = model->get<std::string>();
  } else {
    // Without "model", a server of one model serves it (as before several were possible).
    requested = router_.only_model();
    if (requested.empty())
      throw ApiError(400, "'model' is required: this server holds several models", "model");
  }
  std::string user;
  if (body.is_object() && body.contains("user") && body["user"].is_string())
    user = body["user"].get<std::string>();
  return router_.route(requested, user, [&ex](const std::string& header) {
    return std::string(ex.request()[header]);
  });
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
  if (path.rfind("/admin/", 0) == 0) {
    if (!admin_) throw ApiError(404, "no route for " + path + " (the admin API needs --admin-key)");
    co_await admin_->handle(ex, path);
    co_return;
  }
  const Route r = find_route(path);
  if (r == Route::kHealth) {
    check_method(r, ex.request(), path);
    // 200 once every model has a ready version with traffic; the body says, per model and
    // version, what is ready, loading or failed.
    const ojson state = router_.status();
    co_await respond_json(ex, ready_ && router_.ready() ? 200 : 503, state);
    co_return;
  }
  if (r == Route::kMetrics) {
    check_method(r, ex.request(), path);
    std::vector<VersionStats> stats;
    for (const auto& v : router_.loaded())
      stats.push_back({v->model_name(), v->version(), v->engine().stats()});
    co_await ex.respond(200, "text/plain; version=0.0.4", metrics_.render(stats));
    co_return;
  }
  if (route_needs_auth(r) && !options_.api_key.empty()) {
    const auto auth = ex.request()[http::field::authorization];
    if (auth != "Bearer " + options_.api_key) throw ApiError(401, "missing or invalid API key");
  }
  if (!ready_) throw ApiError(503, "the models are loading");
  // 405 after auth and readiness, so an unauthenticated client learns nothing about methods.
  check_method(r, ex.request(), path);
  if (r == Route::kModels) {
    co_await list_models(ex);
  } else if (r == Route::kCompletions) {
    co_await generate(ex, Endpoint::kCompletions, record);
  } else if (r == Route::kChatCompletions) {
    co_await generate(ex, Endpoint::kChatCompletions, record);
  } else {
    co_await tokenize(ex, r == Route::kDetokenize);
  }
}

net::awaitable<void> ApiServer::list_models(HttpExchange& ex) {
  ojson data = ojson::array();
  for (const std::string& id : router_.ids()) {
    ojson model = {
        {"id", id}, {"object", "model"}, {"created", created_}, {"owned_by", "llm-server"}};
    try {
      // The context length of the version a request would reach now.
      const RoutedRequest routed =
          router_.route(id, "", [](const std::string&) { return std::string(); });
      model["max_model_len"] = routed.primary->context().max_model_len;
    } catch (const ApiError&) {
      // Not ready yet: listed without a length.
    }
    data.push_back(std::move(model));
  }
  // Bodies are built before co_await: GCC 12 miscompiles braced temporaries across it.
  const ojson body = {{"object", "list"}, {"data", std::move(data)}};
  co_await respond_json(ex, 200, body);
}

net::awaitable<void> ApiServer::generate(HttpExchange& ex, Endpoint endpoint, RequestRecord& record) {
  const auto start = Clock::now();
  const ojson body = parse_json_body(ex.request().body());
  std::string requested;
  const RoutedRequest routed = route_request(ex, body, requested);
  // The request holds its version: unloading or re-weighting it now does not cut this short.
  const std::shared_ptr<ModelVersion> version = routed.primary;
  record.model = version->model_name();
  record.version = version->version();
  ex.add_header("X-Model-Version", version->model_name() + ":" + version->version());
  ModelContext ctx = version->context();
  ctx.served_model_name = requested;  // responses echo the name the client used
  ApiRequest r = parse_api_request(endpoint, body, ctx);
  const bool monitor = router_.model(version->model_name()).monitor_logprobs;
  r.params.track_logprob = monitor;

  // Woken by each event and by the client's socket becoming readable (a hang-up), never by a
  // timer: an idle stream costs nothing while the engine works on it.
  const auto executor = co_await net::this_coro::executor;
  auto signal = std::make_shared<AsyncSignal>(executor);
  ApiCompletion job(version->engine(), r, *ctx.tokenizer, [signal] { signal->notify(); });
  // The copy starts after the primary is queued, so it never goes ahead of it.
  std::shared_ptr<ShadowPair> shadow;
  if (routed.shadow)
    shadow = shadows_.start(executor, *version, routed.shadow, endpoint, body, requested, monitor);
  ex.on_peer_readable([signal] { signal->notify(); });
  StreamEncoder encoder(r, *ctx.tokenizer, job.id(), job.created());
  bool client_gone = false;
  if (r.stream) client_gone = !(co_await ex.start_stream()) || !(co_await ex.send(encoder.start()));

  std::vector<int32_t> first_choice;  // the tokens a shadow copy is compared with
  while (!client_gone) {
    std::string frames;
    const bool done = job.drain([&](size_t p, const CompletionEvent& ev) {
      if (record.ttft_seconds < 0 && !ev.token_ids.empty()) record.ttft_seconds = seconds_since(start);
      if (r.stream) frames += encoder.event(p, ev);
      if (shadow && p == 0 && ev.index == 0)
        first_choice.insert(first_choice.end(), ev.token_ids.begin(), ev.token_ids.end());
    });
    if (r.stream && !frames.empty() && !(co_await ex.send(frames))) client_gone = true;
    if (done || client_gone) break;
    co_await signal->wait();
    if (ex.peer_closed()) client_gone = true;
  }
  if (shadow) {
    shadow->primary_done(client_gone ? std::nullopt : std::optional(std::move(first_choice)));
  }
  const Usage usage = job.builder().usage();
  record.prompt_tokens = usage.prompt_tokens;
  record.completion_tokens = usage.completion_tokens;
  record.queue_seconds = job.queue_seconds();
  record.finish_reason = client_gone ? "abort" : job.first_finish();
  if (monitor && usage.completion_tokens > 0)
    record.mean_logprob = usage.sum_logprob / usage.completion_tokens;
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
    const ojson reply = job.builder().body();
    co_await respond_json(ex, 200, reply);
  }
}

net::awaitable<void> ApiServer::tokenize(HttpExchange& ex, bool detokenize) {
  const ojson body = parse_json_body(ex.request().body());
  std::string requested;
  const RoutedRequest routed = route_request(ex, body, requested);
  const ModelContext& ctx = routed.primary->context();
  if (detokenize) {
    const std::vector<int32_t> ids = detokenize_request_ids(body, ctx);
    const ojson reply = {{"prompt", ctx.tokenizer->decode(ids)}};
    co_await respond_json(ex, 200, reply);
  } else {
    const std::vector<int32_t> ids = tokenize_request_ids(body, ctx);
    const ojson reply = {
        {"count", ids.size()}, {"max_model_len", ctx.max_model_len}, {"tokens", ids}};
    co_await respond_json(ex, 200, reply);
  }
}

}  // namespace llm
