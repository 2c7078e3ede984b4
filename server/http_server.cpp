#include "server/http_server.h"

#include <sys/socket.h>

#include "llm/error.h"

namespace llm {

namespace beast = boost::beast;
using tcp = net::ip::tcp;
using net::use_awaitable;

void AsyncSignal::notify() {
  net::post(timer_.get_executor(), [self = shared_from_this()] {
    self->pending_ = true;
    self->timer_.cancel();
  });
}

net::awaitable<void> AsyncSignal::wait(std::chrono::milliseconds timeout) {
  if (!pending_) {
    timer_.expires_after(timeout);
    boost::system::error_code ec;
    co_await timer_.async_wait(net::redirect_error(use_awaitable, ec));
  }
  pending_ = false;
}

net::awaitable<void> HttpExchange::respond(int status, std::string content_type, std::string body,
                                           std::vector<std::pair<std::string, std::string>> headers) {
  status_ = status;
  http::response<http::string_body> res{static_cast<http::status>(status), req_.version()};
  res.set(http::field::server, "llm-serve");
  res.set(http::field::content_type, content_type);
  for (auto& [k, v] : extra_headers_) res.set(k, v);
  for (auto& [k, v] : headers) res.set(k, v);
  res.keep_alive(keep_alive_ && req_.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  stream_.expires_after(limits_.write_timeout);
  boost::system::error_code ec;
  co_await http::async_write(stream_, res, net::redirect_error(use_awaitable, ec));
  if (ec) keep_alive_ = false;
}

net::awaitable<bool> HttpExchange::start_stream() {
  status_ = 200;
  streaming_ = true;
  http::response<http::empty_body> res{http::status::ok, req_.version()};
  res.set(http::field::server, "llm-serve");
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-cache");
  for (auto& [k, v] : extra_headers_) res.set(k, v);
  res.keep_alive(keep_alive_ && req_.keep_alive());
  res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  stream_.expires_after(limits_.write_timeout);
  boost::system::error_code ec;
  co_await http::async_write_header(stream_, sr, net::redirect_error(use_awaitable, ec));
  if (ec) keep_alive_ = false;
  co_return !ec;
}

net::awaitable<bool> HttpExchange::send(const std::string& data) {
  if (data.empty()) co_return true;
  stream_.expires_after(limits_.write_timeout);
  boost::system::error_code ec;
  co_await net::async_write(stream_, http::make_chunk(net::buffer(data)), net::redirect_error(use_awaitable, ec));
  if (ec) keep_alive_ = false;
  co_return !ec;
}

net::awaitable<void> HttpExchange::finish_stream() {
  stream_.expires_after(limits_.write_timeout);
  boost::system::error_code ec;
  co_await net::async_write(stream_, http::make_chunk_last(), net::redirect_error(use_awaitable, ec));
  if (ec) keep_alive_ = false;
}

bool HttpExchange::peer_closed() {
  char c;
  const ssize_t n = ::recv(stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;  // orderly shutdown by the client
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return false;  // pipelined bytes: still there
}

HttpServer::HttpServer(net::io_context& ioc, const std::string& host, uint16_t port, HttpLimits limits,
                       HttpHandler handler)
    : ioc_(ioc), acceptor_(ioc), limits_(limits), handler_(std::move(handler)) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) throw Error(ErrorCode::kInvalidArgument, "'" + host + "' is not an IP address");
  const tcp::endpoint ep(address, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw Error(ErrorCode::kInvalidArgument,
                "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
}

void HttpServer::start() { net::co_spawn(acceptor_.get_executor(), accept_loop(), net::detached); }

void HttpServer::stop_accepting() {
  stopping_ = true;
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  std::lock_guard lock(idle_mu_);
  for (beast::tcp_stream* s : idle_) {
    // Runs on the connection's strand; it is still alive if it is still registered as idle.
    net::post(s->get_executor(), [this, s] {
      std::lock_guard l(idle_mu_);
      if (idle_.count(s)) s->socket().cancel();
    });
  }
}

net::awaitable<void> HttpServer::accept_loop() {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(net::make_strand(ioc_), net::redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == net::error::operation_aborted) break;
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    auto ex = socket.get_executor();
    net::co_spawn(ex, session(std::move(socket)), net::detached);
  }
}

net::awaitable<void> HttpServer::error_and_close(beast::tcp_stream& stream, int status, const std::string& message) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "llm-serve");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  const std::string type = status == 413 ? "invalid_request_error" : status == 503 ? "service_unavailable" : "invalid_request_error";
  res.body() = R"({"error": {"message": ")" + message + R"(", "type": ")" + type + R"(", "param": null, "code": null}})";
  res.prepare_payload();
  stream.expires_after(limits_.write_timeout);
  boost::system::error_code ec;
  co_await http::async_write(stream, res, net::redirect_error(use_awaitable, ec));
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

net::awaitable<void> HttpServer::session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  struct Count {
    std::atomic<int>& n;
    explicit Count(std::atomic<int>& c) : n(c) { ++n; }
    ~Count() { --n; }
  } connection(open_connections_);
  if (open_connections_.load() > limits_.max_connections) {
    co_await error_and_close(stream, 503, "too many connections");
    co_return;
  }
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(limits_.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    stream.expires_after(limits_.idle_timeout);
    {
      std::lock_guard lock(idle_mu_);
      if (stopping_) break;
      idle_.insert(&stream);
    }
    boost::system::error_code ec;
    co_await http::async_read(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
    {
      std::lock_guard lock(idle_mu_);
      idle_.erase(&stream);
    }
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      break;
    }
    if (ec == http::error::body_limit) {
      co_await error_and_close(stream, 413, "request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
      break;
    }
    if (ec == http::error::header_limit) {
      co_await error_and_close(stream, 431, "request headers exceed " + std::to_string(limits_.max_header_bytes) + " bytes");
      break;
    }
    if (ec) {
      co_await error_and_close(stream, 400, "malformed HTTP request");
      break;
    }
    const http::request<http::string_body> req = parser.release();
    HttpExchange exchange(stream, req, limits_);
    if (stopping_) exchange.close_after();
    ++active_requests_;
    try {
      co_await handler_(exchange);
    } catch (...) {
      exchange.close_after();  // the handler reports its own errors; this is a last resort
    }
    --active_requests_;
    if (!exchange.keep_alive() || !req.keep_alive() || stopping_) break;
  }
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace llm
