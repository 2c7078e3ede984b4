// Raw bytes as a client sends them, through the code HttpServer::session and ApiServer::route
// run before a request reaches the engine: Beast's parser with the server's limits (fed in
// TCP-sized pieces, several pipelined requests per connection), the read-error answers,
// routing, and the JSON body parsers of every POST route. Only ApiError may come out: any
// other exception would be a 500 or a dropped connection for a malformed request.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/http_request.h"
#include "tests/fuzz/fuzz_support.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace net = boost::asio;

// A SyncReadStream over the fuzz input that hands out at most `chunk` bytes per read, so the
// parser sees a request split at arbitrary points, as it does off a socket.
class ByteStream {
 public:
  ByteStream(std::string_view data, size_t chunk) : data_(data), chunk_(chunk) {}

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    if (data_.empty()) {
      ec = net::error::eof;
      return 0;
    }
    ec = {};
    const size_t n =
        net::buffer_copy(buffers, net::buffer(data_.data(), std::min(chunk_, data_.size())));
    data_.remove_prefix(n);
    return n;
  }

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view data_;
  size_t chunk_;
};

void handle(const llm::HttpRequest& req) {
  const llm::ModelContext& ctx = llm::fuzz::model_context();
  const std::string path = llm::request_path(req.target());
  try {
    const llm::Route route = llm::find_route(path);
    llm::check_method(route, req, path);
    switch (route) {
      case llm::Route::kCompletions:
        llm::parse_api_request(llm::Endpoint::kCompletions, llm::parse_json_body(req.body()), ctx);
        break;
      case llm::Route::kChatCompletions:
        llm::parse_api_request(llm::Endpoint::kChatCompletions, llm::parse_json_body(req.body()),
                               ctx);
        break;
      case llm::Route::kTokenize:
        llm::tokenize_request_ids(llm::parse_json_body(req.body()), ctx);
        break;
      case llm::Route::kDetokenize:
        ctx.tokenizer->decode(llm::detokenize_request_ids(llm::parse_json_body(req.body()), ctx));
        break;
      default:
        break;
    }
  } catch (const llm::ApiError& e) {
    if (e.status() < 400 || e.status() >= 500) std::abort();
    llm::api_error_body(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the read size and whether to use small limits, so that the 413 and
  // 431 paths are reachable with short inputs too.
  const size_t chunk = 1 + (data[0] & 0x3f) * 7;
  llm::HttpLimits limits;
  if (data[0] & 0x80) {
    limits.max_body_bytes = 64;
    limits.max_header_bytes = 256;
  }
  ByteStream stream(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), chunk);
  boost::beast::flat_buffer buffer;
  for (int i = 0; i < 8; ++i) {
    llm::HttpRequestParser parser;
    llm::apply_limits(parser, limits);
    boost::system::error_code ec;
    boost::beast::http::read(stream, buffer, parser, ec);
    if (llm::classify_read_error(ec, limits)) break;
    const llm::HttpRequest req = parser.release();
    handle(req);
    if (!req.keep_alive()) break;
  }
  return 0;
}
