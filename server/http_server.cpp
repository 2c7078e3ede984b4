#include "server/http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>

#include "llm/error.h"

namespace llm {

namespace beast = boost::beast;
using tcp = net::ip::tcp;
using net::use_awaitable;

namespace {

// Over-limit connections answered 503 at once; beyond these a flood is closed unanswered, so it
// cannot take the file descriptors the admitted connections need.
constexpr int kMaxRejecting = 64;
// How long an over-limit connection gets to send its request head before the 503.
constexpr std::chrono::seconds kRejectReadTimeout{2};
// How long a connection closed after an error is drained (see error_and_close).
constexpr std::chrono::seconds kLingerTimeout{2};

// Decrements a counter the accept loop incremented, when the connection's coroutine ends.
struct Release {
  std::atomic<int>& n;
  ~Release() { --n; }
};

}  // namespace

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

net::awaitable<void> AsyncSignal::wait() {
  if (!pending_) {
    timer_.expires_at(net::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await timer_.async_wait(net::redirect_error(use_awaitable, ec));
  }
  pending_ = false;
}

net::awaitable<void> HttpExchange::respond(int status, std::string content_type, std::string body,
                                           std::vector<std::pair<std::string, std::string>> headers) {
  status_ = status;
  if (on_reply_) on_reply_(status_);
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
  if (on_reply_) on_reply_(status_);
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

void HttpExchange::on_peer_readable(std::function<void()> callback) {
  // Completes with an error (and no call) when the connection is cancelled or closed first.
  stream_.socket().async_wait(tcp::socket::wait_read,
                              [cb = std::move(callback)](const boost::system::error_code& ec) {
                                if (!ec) cb();
                              });
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
      // E.g. EMFILE: keep serving the connections we have, and pause so that the connection
      // still waiting in the backlog does not turn this loop into a busy spin.
      net::steady_timer pause(co_await net::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(net::redirect_error(use_awaitable, ec));
      continue;
    }
    auto ex = socket.get_executor();
    // Counted here, in the one accept loop, so admission has no race between sessions.
    if (open_connections_.load() >= limits_.max_connections) {
      if (rejecting_.load() >= kMaxRejecting) {
        socket.close(ec);
        continue;
      }
      ++rejecting_;
      net::co_spawn(ex, reject(std::move(socket)), net::detached);
      continue;
    }
    ++open_connections_;
    net::co_spawn(ex, session(std::move(socket)), net::detached);
  }
}

net::awaitable<void> HttpServer::reject(tcp::socket socket) {
  const Release release{rejecting_};
  beast::tcp_stream stream(std::move(socket));
  // The head is read first: a response sent before the request may be lost when the client's
  // request then meets a closed socket (a reset discards what the client had not yet read).
  beast::flat_buffer buffer;
  HttpRequestParser parser;
  apply_limits(parser, limits_);
  stream.expires_after(std::min<std::chrono::seconds>(limits_.idle_timeout, kRejectReadTimeout));
  boost::system::error_code ec;
  co_await http::async_read_header(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
  if (ec == beast::error::timeout) co_return;  // the stream is closed already
  const std::string message = "the server is at its limit of " +
                              std::to_string(limits_.max_connections) + " connections; retry later";
  co_await error_and_close(stream, 503, message);
}

net::awaitable<void> HttpServer::error_and_close(beast::tcp_stream& stream, int status, const std::string& message) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "llm-serve");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  if (status == 503) res.set(http::field::retry_after, "1");
  res.body() = api_error_body(ApiError(status, message));
  res.prepare_payload();
  stream.expires_after(limits_.write_timeout);
  boost::system::error_code ec;
  co_await http::async_write(stream, res, net::redirect_error(use_awaitable, ec));
  if (ec) co_return;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  // Lingering close: the client may still be sending (the rest of a body over the limit);
  // closing with its bytes unread would reset the connection, and a reset makes the client's
  // kernel discard the error response before the client reads it. So read and drop until the
  // client closes too, for a bounded time.
  stream.expires_after(kLingerTimeout);
  std::array<char, 4096> sink;
  while (!ec) {
    co_await stream.async_read_some(net::buffer(sink), net::redirect_error(use_awaitable, ec));
  }
}

net::awaitable<void> HttpServer::session(tcp::socket socket) {
  const Release release{open_connections_};
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    HttpRequestParser parser;
    apply_limits(parser, limits_);
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
    if (const auto failure = classify_read_error(ec, limits_)) {
      if (failure->status != 0) co_await error_and_close(stream, failure->status, failure->message);
      break;
    }
    const HttpRequest req = parser.release();
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
