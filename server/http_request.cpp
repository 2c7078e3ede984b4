#include "server/http_request.h"

#include <algorithm>
#include <array>
#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <utility>

#include "tokenizer/tokenizer.h"

namespace llm {
namespace {

namespace net = boost::asio;

struct RouteEntry {
  std::string_view path;
  Route route;
  http::verb method;
};

constexpr std::array<RouteEntry, 7> kRoutes = {{
    {"/health", Route::kHealth, http::verb::get},
    {"/metrics", Route::kMetrics, http::verb::get},
    {"/v1/models", Route::kModels, http::verb::get},
    {"/v1/completions", Route::kCompletions, http::verb::post},
    {"/v1/chat/completions", Route::kChatCompletions, http::verb::post},
    {"/tokenize", Route::kTokenize, http::verb::post},
    {"/detokenize", Route::kDetokenize, http::verb::post},
}};

}  // namespace

void apply_limits(HttpRequestParser& parser, const HttpLimits& limits) {
  parser.body_limit(limits.max_body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
}

std::optional<HttpReadFailure> classify_read_error(const boost::system::error_code& ec,
                                                   const HttpLimits& limits) {
  if (!ec) return std::nullopt;
  if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
      ec == boost::beast::error::timeout || ec == net::error::connection_reset ||
      ec == net::error::eof) {
    return HttpReadFailure{};
  }
  if (ec == http::error::body_limit) {
    return HttpReadFailure{
        413, "request body exceeds " + std::to_string(limits.max_body_bytes) + " bytes"};
  }
  if (ec == http::error::header_limit) {
    return HttpReadFailure{
        431, "request headers exceed " + std::to_string(limits.max_header_bytes) + " bytes"};
  }
  return HttpReadFailure{400, "malformed HTTP request"};
}

std::string request_path(boost::beast::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

Route find_route(const std::string& path) {
  const auto it = std::find_if(kRoutes.begin(), kRoutes.end(),
                               [&](const RouteEntry& e) { return e.path == path; });
  if (it == kRoutes.end()) throw ApiError(404, "no route " + path);
  return it->route;
}

bool route_needs_auth(Route route) {
  return route != Route::kHealth && route != Route::kMetrics;
}

void check_method(Route route, const HttpRequest& req, const std::string& path) {
  const auto it = std::find_if(kRoutes.begin(), kRoutes.end(),
                               [&](const RouteEntry& e) { return e.route == route; });
  if (req.method() != it->method) {
    throw ApiError(405,
                   "method " + std::string(req.method_string()) + " is not allowed on " + path);
  }
}

nlohmann::ordered_json parse_json_body(const std::string& body) {
  try {
    return nlohmann::ordered_json::parse(body, limit_request_json_depth);
  } catch (const nlohmann::json::exception& e) {
    throw ApiError(400, std::string("malformed JSON body: ") + e.what());
  }
}

std::vector<int32_t> tokenize_request_ids(const nlohmann::ordered_json& body,
                                          const ModelContext& ctx) {
  using ojson = nlohmann::ordered_json;
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
  if (body.contains("messages")) {
    const auto gen_field = body.find("add_generation_prompt");
    const bool gen_given = gen_field != body.end() && !gen_field->is_null();
    if (gen_given && !gen_field->is_boolean()) {
      throw ApiError(400, "'add_generation_prompt' must be a boolean", "add_generation_prompt");
    }
    const bool gen = !gen_given || gen_field->get<bool>();
    return render_chat_prompt(body["messages"], body.value("tools", ojson(nullptr)), gen,
                              read_chat_template_kwargs(body), ctx);
  }
  if (body.contains("prompt") && body["prompt"].is_string()) {
    const auto add = body.find("add_special_tokens");
    if (add != body.end() && !add->is_boolean()) {
      throw ApiError(400, "'add_special_tokens' must be a boolean", "add_special_tokens");
    }
    return ctx.tokenizer->encode(body["prompt"].get<std::string>(),
                                 add == body.end() || add->get<bool>());
  }
  throw ApiError(400, "'prompt' (a string) or 'messages' is required", "prompt");
}

std::vector<int32_t> detokenize_request_ids(const nlohmann::ordered_json& body,
                                            const ModelContext& ctx) {
  if (!body.is_object() || !body.contains("tokens") || !body["tokens"].is_array()) {
    throw ApiError(400, "'tokens' (a list of token ids) is required", "tokens");
  }
  std::vector<int32_t> ids;
  for (const auto& t : body["tokens"]) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= ctx.vocab_size) {
      throw ApiError(400,
                     "'tokens' must hold token ids in [0, " + std::to_string(ctx.vocab_size) + ")",
                     "tokens");
    }
    ids.push_back(t.get<int32_t>());
  }
  return ids;
}

// Messages may quote client bytes (a JSON parse error shows what it last read, a 404 the path)
// that are not UTF-8; a strict dump would throw instead of answering.
std::string api_error_body(const ApiError& error) {
  return error.body().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace llm
