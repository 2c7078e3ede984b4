// HttpServer: Boost.Beast HTTP/1.1 with keep-alive on a small pool of io threads. Each
// connection is a coroutine on its own strand; a complete request is handed to the Handler as
// an HttpExchange, through which the handler answers (whole or as a chunked SSE stream).
#pragma once

#include <atomic>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/http_request.h"

namespace llm {

namespace net = boost::asio;
namespace http = boost::beast::http;

// Wakes one coroutine (on its strand) when another thread signals; no lost wake-ups.
class AsyncSignal : public std::enable_shared_from_this<AsyncSignal> {
 public:
  explicit AsyncSignal(net::any_io_executor ex) : timer_(ex) {}
  void notify();  // any thread
  // Returns after a notify (possibly one that came before the call) or after `timeout`.
  net::awaitable<void> wait(std::chrono::milliseconds timeout);
  // Returns after a notify (possibly one that came before the call).
  net::awaitable<void> wait();

 private:
  net::steady_timer timer_;
  bool pending_ = false;  // touched only on the timer's strand
};

// One request being answered.
class HttpExchange {
 public:
  HttpExchange(boost::beast::tcp_stream& stream, const http::request<http::string_body>& req,
               const HttpLimits& limits)
      : stream_(stream), req_(req), limits_(limits) {}

  const http::request<http::string_body>& request() const { return req_; }
  // Sends a whole response. Headers are extra (name, value) pairs.
  net::awaitable<void> respond(int status, std::string content_type, std::string body,
                               std::vector<std::pair<std::string, std::string>> headers = {});
  // Starts a chunked text/event-stream response; then send() frames and finish().
  // Each returns false when the client is gone (write failed or timed out).
  net::awaitable<bool> start_stream();
  net::awaitable<bool> send(const std::string& data);
  net::awaitable<void> finish_stream();
  // True when the peer has closed its side (checked without reading).
  bool peer_closed();
  // Calls `callback` once, on this connection's executor, when the socket becomes readable: the
  // peer closed it (or pipelined its next request). Lets a long response notice a hang-up
  // without polling.
  void on_peer_readable(std::function<void()> callback);
  int status() const { return status_; }
  // Called with the status just before a response's first byte is written, so anything the
  // client does after reading it (e.g. scrape /metrics) already sees this response counted.
  void on_reply(std::function<void(int status)> hook) { on_reply_ = std::move(hook); }
  bool keep_alive() const { return keep_alive_; }
  void close_after() { keep_alive_ = false; }
  // A header every response of this exchange carries (e.g. X-Request-Id).
  void add_header(std::string name, std::string value) { extra_headers_.emplace_back(std::move(name), std::move(value)); }

 private:
  boost::beast::tcp_stream& stream_;
  const http::request<http::string_body>& req_;
  const HttpLimits& limits_;
  int status_ = 0;
  bool keep_alive_ = true;
  bool streaming_ = false;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  std::function<void(int)> on_reply_;
};

using HttpHandler = std::function<net::awaitable<void>(HttpExchange&)>;

class HttpServer {
 public:
  // Binds host:port (port 0 picks a free one). Throws llm::Error when it cannot bind.
  HttpServer(net::io_context& ioc, const std::string& host, uint16_t port, HttpLimits limits,
             HttpHandler handler);
  uint16_t port() const { return port_; }
  void start();
  // Stops accepting and closes idle keep-alive connections; requests in flight go on.
  void stop_accepting();
  int active_requests() const { return active_requests_.load(); }
  int open_connections() const { return open_connections_.load(); }

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> session(net::ip::tcp::socket socket);
  // A connection over max_connections: its request head is read (briefly), then 503.
  net::awaitable<void> reject(net::ip::tcp::socket socket);
  net::awaitable<void> error_and_close(boost::beast::tcp_stream& stream, int status, const std::string& message);

  net::io_context& ioc_;
  net::ip::tcp::acceptor acceptor_;
  HttpLimits limits_;
  HttpHandler handler_;
  uint16_t port_ = 0;
  std::atomic<int> active_requests_{0};
  std::atomic<int> open_connections_{0};  // admitted ones, counted by the accept loop
  std::atomic<int> rejecting_{0};         // over-limit ones still being answered 503
  std::atomic<bool> stopping_{false};
  std::mutex idle_mu_;
  std::set<boost::beast::tcp_stream*> idle_;  // connections waiting for their next request
};

}  // namespace llm
