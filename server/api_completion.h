// ApiCompletion: one OpenAI request in flight on an Engine, the same for every front end (the
// HTTP server and the batch runner): one engine request per prompt, all withdrawn if one is
// refused; the response id and created time; the ResponseBuilder fed with every event; and a
// wake-up callback per event, so a consumer waits for events instead of polling streams.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "llm/engine.h"
#include "server/openai_response.h"

namespace llm {

class ApiCompletion {
 public:
  // Submits every prompt of `request` (which must outlive this). `wake` runs on the engine
  // thread after each event: it must be cheap and must not block. Throws what Engine::submit
  // throws, after aborting the prompts already submitted.
  ApiCompletion(Engine& engine, const ApiRequest& request, const Tokenizer& tokenizer,
                std::function<void()> wake);
  // Detaches the wake-up; aborts the prompts still generating (a consumer that gave up).
  ~ApiCompletion();
  ApiCompletion(const ApiCompletion&) = delete;
  ApiCompletion& operator=(const ApiCompletion&) = delete;

  // Takes every event that has arrived, in order per prompt, into the response builder and
  // hands each to `on_event` (prompt index, event). Returns true once every choice finished.
  bool drain(const std::function<void(size_t prompt, const CompletionEvent&)>& on_event = {});
  bool finished() const { return builder_.num_finished() == builder_.num_choices(); }
  // Stops generating now (the client is gone): the KV blocks go back at the next step.
  void abort();

  const std::string& id() const { return id_; }
  int64_t created() const { return created_; }
  const ResponseBuilder& builder() const { return builder_; }
  // Of the finished choices: the longest wait in the queue, and the first finish reason.
  double queue_seconds() const { return queue_seconds_; }
  const std::string& first_finish() const { return first_finish_; }

 private:
  Engine& engine_;
  std::string id_;
  int64_t created_;
  ResponseBuilder builder_;
  std::vector<std::shared_ptr<RequestStream>> streams_;  // [prompts]
  double queue_seconds_ = 0;
  std::string first_finish_;
};

}  // namespace llm
