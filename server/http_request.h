// The socket-free half of serving a request: the HTTP parser with the server's limits, what a
// failed read answers, routing, and the JSON body. HttpServer and ApiServer call these, and so
// does the HTTP fuzz target (tests/fuzz), so the bytes a client sends reach the same code there.
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api_error.h"
#include "server/openai_request.h"

namespace llm {

namespace http = boost::beast::http;

struct HttpLimits {
  size_t max_body_bytes = 4 << 20;
  size_t max_header_bytes = 16 << 10;
  std::chrono::seconds idle_timeout{60};   // keep-alive wait and slow request bodies
  std::chrono::seconds write_timeout{60};  // a client that stops reading
  int max_connections = 512;
};

using HttpRequest = http::request<http::string_body>;
using HttpRequestParser = http::request_parser<http::string_body>;

// Sets the body and header limits; a parser must be fresh for each request.
void apply_limits(HttpRequestParser& parser, const HttpLimits& limits);

// What a connection does after a read that failed with `ec`.
struct HttpReadFailure {
  int status = 0;  // 0: the peer went away or timed out, close without answering
  std::string message;
};
// nullopt when `ec` is no error (a complete request was read).
std::optional<HttpReadFailure> classify_read_error(const boost::system::error_code& ec,
                                                   const HttpLimits& limits);

enum class Route {
  kHealth,
  kMetrics,
  kModels,
  kCompletions,
  kChatCompletions,
  kTokenize,
  kDetokenize,
};

// The target's path: the query string cut off.
std::string request_path(boost::beast::string_view target);
// Throws ApiError 404 for a path no route serves.
Route find_route(const std::string& path);
// /health and /metrics are open; the API routes need the API key when one is set.
bool route_needs_auth(Route route);
// Each route answers one method; throws ApiError 405 naming the method and path otherwise.
void check_method(Route route, const HttpRequest& req, const std::string& path);

// Throws ApiError 400 when the body is not JSON.
nlohmann::ordered_json parse_json_body(const std::string& body);

// The bodies of /tokenize ({"prompt", "add_special_tokens"} or {"messages", "tools",
// "add_generation_prompt"}) and /detokenize ({"tokens"}) as token ids. Throw ApiError.
std::vector<int32_t> tokenize_request_ids(const nlohmann::ordered_json& body,
                                          const ModelContext& ctx);
std::vector<int32_t> detokenize_request_ids(const nlohmann::ordered_json& body,
                                            const ModelContext& ctx);

// The JSON text of an error response.
std::string api_error_body(const ApiError& error);

}  // namespace llm
