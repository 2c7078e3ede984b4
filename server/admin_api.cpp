#include "server/admin_api.h"

#include "llm/error.h"
#include "server/api_error.h"
#include "server/log_line.h"

namespace llm {
namespace {

using ojson = nlohmann::ordered_json;

std::string string_field(const ojson& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty())
    throw ApiError(400, std::string("'") + key + "' must be a non-empty string", key);
  return it->get<std::string>();
}

}  // namespace

AdminApi::AdminApi(ModelRouter& router, std::string key, RequestLimits limits, ParseVersion parse)
    : router_(router), key_(std::move(key)), limits_(limits), parse_(std::move(parse)) {}

AdminApi::~AdminApi() {
  std::lock_guard lock(mu_);
  for (std::thread& t : loads_) t.join();
}

void AdminApi::start_load(const std::string& model_in, const ojson& version_json) {
  const ModelSpec& model = router_.model(model_in);
  VersionSpec spec;
  try {
    spec = parse_(version_json, "'version'");
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "version");
  }
  router_.begin_load(model.name, spec.version);  // 409 when the name is taken
  log_line("llm-serve: admin: loading ", model.name, ":", spec.version, " from ", spec.model);
  std::lock_guard lock(mu_);
  loads_.emplace_back([this, &model, spec, limits = limits_] {
    try {
      router_.finish_load(ModelVersion::load(model, spec, limits));
      log_line("llm-serve: admin: ", model.name, ":", spec.version, " is ready");
    } catch (const std::exception& e) {
      router_.fail_load(model.name, spec.version, e.what());
      log_line("llm-serve: admin: loading ", model.name, ":", spec.version, " failed: ", e.what());
    }
  });
}

net::awaitable<void> AdminApi::handle(HttpExchange& ex, const std::string& path) {
  if (key_.empty())
    throw ApiError(404, "no route for " + path + " (the admin API needs --admin-key)");
  if (ex.request()[http::field::authorization] != "Bearer " + key_)
    throw ApiError(401, "missing or invalid admin key");
  const bool get = ex.request().method() == http::verb::get;
  int status = 200;
  if (path == "/admin/models") {
    if (!get) throw ApiError(405, "use GET for /admin/models");
  } else {
    static const char* const kActions[] = {"load",    "unload",   "weights",
                                           "promote", "rollback", "shadow"};
    const std::string action = path.rfind("/admin/models/", 0) == 0 ? path.substr(14) : "";
    if (std::find(std::begin(kActions), std::end(kActions), action) == std::end(kActions))
      throw ApiError(404, "no route for " + path);
    if (ex.request().method() != http::verb::post) throw ApiError(405, "use POST for " + path);
    const ojson body = parse_json_body(ex.request().body());
    if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
    const std::string model = string_field(body, "model");
    if (action == "load") {
      const auto v = body.find("version");
      if (v == body.end() || !v->is_object())
        throw ApiError(400, "'version' must be an object", "version");
      start_load(model, *v);
      status = 202;
    } else if (action == "unload") {
      router_.unload(model, string_field(body, "version"));
    } else if (action == "weights") {
      const auto w = body.find("weights");
      if (w == body.end() || !w->is_object() || w->empty())
        throw ApiError(400, "'weights' must be an object of version: weight", "weights");
      std::map<std::string, double> weights;
      for (const auto& [version, weight] : w->items()) {
        if (!weight.is_number()) throw ApiError(400, "weights must be numbers >= 0", "weights");
        weights[version] = weight.get<double>();
      }
      router_.set_weights(model, weights);
    } else if (action == "promote") {
      router_.promote(model, string_field(body, "version"));
    } else if (action == "rollback") {
      router_.rollback(model);
    } else {
      const auto v = body.find("version");
      if (v == body.end() || !(v->is_string() || v->is_null()))
        throw ApiError(400, "'version' must be a version name or null", "version");
      router_.set_shadow(model, v->is_null() ? "" : v->get<std::string>());
    }
    log_line("llm-serve: admin: ", action, " on '", model, "'");
  }
  const ojson state = router_.status();
  co_await ex.respond(status, "application/json", state.dump());
}

}  // namespace llm
