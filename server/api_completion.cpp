#include "server/api_completion.h"

#include <algorithm>
#include <chrono>

namespace llm {
namespace {

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ApiCompletion::ApiCompletion(Engine& engine, const ApiRequest& request, const Tokenizer& tokenizer,
                             std::function<void()> wake)
    : engine_(engine),
      id_(make_response_id(request.endpoint)),
      created_(unix_seconds()),
      builder_(request, tokenizer, id_, created_) {
  try {
    for (const auto& prompt : request.prompts) {
      streams_.push_back(engine_.submit(Request{"", prompt, request.params}));
      streams_.back()->set_listener(wake);
    }
  } catch (...) {
    abort();
    for (auto& s : streams_) s->set_listener(nullptr);
    throw;
  }
}

ApiCompletion::~ApiCompletion() {
  for (auto& s : streams_) s->set_listener(nullptr);
  if (!finished()) abort();
}

void ApiCompletion::abort() {
  for (auto& s : streams_) engine_.abort(s->request_id());
}

bool ApiCompletion::drain(
    const std::function<void(size_t prompt, const CompletionEvent&)>& on_event) {
  for (size_t p = 0; p < streams_.size(); ++p) {
    while (auto ev = streams_[p]->next(std::chrono::milliseconds(0))) {
      if (ev->finish) {
        queue_seconds_ = std::max(queue_seconds_, ev->queue_seconds);
        if (first_finish_.empty()) first_finish_ = finish_reason_name(*ev->finish);
      }
      builder_.add(p, *ev);
      if (on_event) on_event(p, *ev);
    }
  }
  return finished();
}

}  // namespace llm
