#include "bench/serve_client.h"

#include <boost/beast.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <regex>

#include "llm/error.h"

namespace llm::bench {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using net::use_awaitable;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

http::request<http::string_body> make_post(const ServeTarget& t, const std::string& path,
                                           std::string body) {
  http::request<http::string_body> req(http::verb::post, path, 11);
  req.set(http::field::host, t.host + ":" + t.port);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "llm-bench");
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

// Reads complete SSE events out of `pending` and applies them to the result; returns true at
// "data: [DONE]".
bool consume_events(std::string& pending, Clock::time_point sent,
                    std::optional<Clock::time_point>& last, StreamResult& r) {
  const auto now = Clock::now();
  bool done = false;
  size_t end;
  while ((end = pending.find("\n\n")) != std::string::npos) {
    const std::string event = pending.substr(0, end);
    pending.erase(0, end + 2);
    if (!event.starts_with("data: ")) continue;  // comments and other fields carry no tokens
    const std::string data = event.substr(6);
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    const nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_discarded())
      throw Error(ErrorCode::kCorruptFile, "unparsable event: " + data.substr(0, 80));
    if (j.contains("error"))
      throw Error(ErrorCode::kInternal, "server error: " + j["error"].dump());
    const auto& choices = j.value("choices", nlohmann::json::array());
    if (!choices.empty() && !choices[0].value("text", std::string()).empty()) {
      if (last) {
        r.itl_s.push_back(seconds_between(*last, now));
      } else {
        r.ttft_s = seconds_between(sent, now);
      }
      last = now;
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      r.prompt_tokens = j["usage"].value("prompt_tokens", 0);
      r.output_tokens = j["usage"].value("completion_tokens", 0);
    }
  }
  return done;
}

}  // namespace

ServeTarget parse_url(const std::string& url) {
  static const std::regex re(R"(http://([A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):([0-9]{1,5})(/v1)?/?)");
  std::smatch m;
  if (!std::regex_match(url, m, re)) {
    throw Error(ErrorCode::kInvalidArgument,
                "--url must look like http://HOST:PORT (plain HTTP), not '" + url + "'");
  }
  std::string host = m[1].str();
  if (host.starts_with("[")) host = host.substr(1, host.size() - 2);
  return {host, m[2].str()};
}

net::awaitable<StreamResult> stream_completion(const ServeTarget& target, std::string body,
                                               std::chrono::seconds timeout) {
  StreamResult r;
  const auto ex = co_await net::this_coro::executor;
  beast::tcp_stream stream(ex);
  tcp::resolver resolver(ex);
  std::string pending;
  std::optional<Clock::time_point> last;
  auto on_chunk = [&pending](uint64_t, beast::string_view data, beast::error_code&) {
    pending.append(data.data(), data.size());
    return data.size();
  };
  http::response_parser<http::empty_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.on_chunk_body(on_chunk);
  beast::flat_buffer buffer;
  try {
    const auto endpoints = co_await resolver.async_resolve(target.host, target.port, use_awaitable);
    stream.expires_after(timeout);
    co_await stream.async_connect(endpoints, use_awaitable);
    http::request<http::string_body> req = make_post(target, "/v1/completions", std::move(body));
    const auto sent = Clock::now();
    co_await http::async_write(stream, req, use_awaitable);
    co_await http::async_read_header(stream, buffer, parser, use_awaitable);
    const unsigned status = parser.get().result_int();
    if (status != 200) {
      r.error = "HTTP " + std::to_string(status);
      co_return r;
    }
    bool done = false;
    while (!done && !parser.is_done()) {
      beast::error_code ec;
      co_await http::async_read_some(stream, buffer, parser,
                                     net::redirect_error(use_awaitable, ec));
      if (ec && ec != http::error::end_of_chunk) throw beast::system_error(ec);
      done = consume_events(pending, sent, last, r);
    }
    r.e2e_s = seconds_between(sent, Clock::now());
    if (!done) {
      r.error = "the event stream ended without data: [DONE]";
      co_return r;
    }
    r.ok = true;
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return r;
}

net::awaitable<nlohmann::json> post_json(const ServeTarget& target, std::string path,
                                         std::string body, std::chrono::seconds timeout) {
  const auto ex = co_await net::this_coro::executor;
  beast::tcp_stream stream(ex);
  tcp::resolver resolver(ex);
  const auto endpoints = co_await resolver.async_resolve(target.host, target.port, use_awaitable);
  stream.expires_after(timeout);
  co_await stream.async_connect(endpoints, use_awaitable);
  http::request<http::string_body> req = make_post(target, path, std::move(body));
  co_await http::async_write(stream, req, use_awaitable);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  co_await http::async_read(stream, buffer, res, use_awaitable);
  if (res.result_int() != 200) {
    throw Error(ErrorCode::kInvalidArgument, "POST " + path + " answered HTTP " +
                                                 std::to_string(res.result_int()) + ": " +
                                                 res.body().substr(0, 200));
  }
  const nlohmann::json j = nlohmann::json::parse(res.body(), nullptr, false);
  if (j.is_discarded())
    throw Error(ErrorCode::kCorruptFile, "POST " + path + ": the answer is not JSON");
  co_return j;
}

}  // namespace llm::bench
