// The HTTP side of `llm-bench serve`: one streamed /v1/completions request over its own
// connection, timed chunk by chunk as the Server-Sent Events arrive, plus a plain JSON POST for
// the set-up calls. Boost.Beast on Asio coroutines, so thousands of requests share one thread.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
// clang-format on
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llm::bench {

struct ServeTarget {
  std::string host;
  std::string port;
};

// "http://HOST:PORT" (a trailing "/" or "/v1" is ignored); throws llm::Error otherwise.
ServeTarget parse_url(const std::string& url);

struct StreamResult {
  bool ok = false;
  std::string error;          // when !ok: what went wrong (HTTP status, server message, I/O)
  double ttft_s = 0;          // request sent to first text chunk
  double e2e_s = 0;           // request sent to "data: [DONE]"
  std::vector<double> itl_s;  // gaps between consecutive text chunks
  int prompt_tokens = 0;      // from the final usage chunk
  int output_tokens = 0;
};

// Sends `body` (a streaming completions request with stream_options.include_usage) and reads
// the event stream to its end. Never throws: failures come back in the result.
boost::asio::awaitable<StreamResult> stream_completion(const ServeTarget& target, std::string body,
                                                       std::chrono::seconds timeout);

// POSTs a JSON body and returns the JSON answer; throws llm::Error on anything but 200.
boost::asio::awaitable<nlohmann::json> post_json(const ServeTarget& target, std::string path,
                                                 std::string body, std::chrono::seconds timeout);

}  // namespace llm::bench
