#include "llm/request_stream.h"

namespace llm {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
  }
  return "?";
}

void RequestStream::push(CompletionEvent event) {
  std::function<void()> listener;
  {
    std::lock_guard lock(mu_);
    if (event.finish) --open_completions_;
    events_.push_back(std::move(event));
    listener = listener_;
  }
  cv_.notify_all();
  if (listener) listener();
}

void RequestStream::set_listener(std::function<void()> listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

std::optional<CompletionEvent> RequestStream::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !events_.empty() || open_completions_ <= 0; });
  if (events_.empty()) return std::nullopt;
  CompletionEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<CompletionEvent> RequestStream::next() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !events_.empty() || open_completions_ <= 0; });
  if (events_.empty()) return std::nullopt;
  CompletionEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool RequestStream::done() const {
  std::lock_guard lock(mu_);
  return open_completions_ <= 0 && events_.empty();
}

}  // namespace llm
