// RequestStream: the channel from the engine thread to whoever submitted a request (an HTTP
// session, the batch runner, a test). Thread-safe; the engine pushes, the consumer pops.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "llm/request.h"

namespace llm {

class RequestStream {
 public:
  RequestStream(std::string request_id, int num_completions)
      : id_(std::move(request_id)), open_completions_(num_completions) {}

  const std::string& request_id() const { return id_; }

  // Engine side. After the finishing event of every completion the stream is done.
  void push(CompletionEvent event);

  // Consumer side: the next event, waiting up to `timeout`; nullopt on timeout or when the
  // stream is done and drained.
  std::optional<CompletionEvent> next(std::chrono::milliseconds timeout);
  // Blocks until an event arrives or the stream is done.
  std::optional<CompletionEvent> next();
  // True once every completion has finished and every event was taken.
  bool done() const;
  // Called (on the engine thread, without locks held) after every push; lets an asynchronous
  // consumer wake up instead of blocking a thread in next(). Must be cheap and must not block.
  void set_listener(std::function<void()> listener);

 private:
  std::string id_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<CompletionEvent> events_;
  int open_completions_;
  std::function<void()> listener_;
};

}  // namespace llm
