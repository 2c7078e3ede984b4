// ModelVersion: one loaded version of a served model: its Engine (own KV pool and memory
// budget), the codec's view of it (ServedModel) and the names it answers to. Loading runs the
// model's warm-up prompts and golden checks; a version that fails them is never routable.
// Requests hold a shared_ptr to the version they started on, so unloading or re-weighting
// never cuts one short: the engine goes when its last request does.
#pragma once

#include <memory>
#include <string>

#include "llm/engine.h"
#include "server/model_spec.h"
#include "server/openai_request.h"
#include "server/served_model.h"

namespace llm {

class ModelVersion {
 public:
  // Creates the engine and runs the readiness checks. Throws llm::Error saying what failed
  // (the load, a warm-up or a golden case with the output it got instead).
  static std::shared_ptr<ModelVersion> load(const ModelSpec& model, const VersionSpec& version,
                                            const RequestLimits& limits);
  ModelVersion(const ModelVersion&) = delete;
  ModelVersion& operator=(const ModelVersion&) = delete;

  const std::string& model_name() const { return model_name_; }
  const std::string& version() const { return spec_.version; }
  const VersionSpec& spec() const { return spec_; }
  Engine& engine() const { return *engine_; }
  // The codec's context; served_model_name is the model's name (what responses echo).
  const ModelContext& context() const { return ctx_; }

 private:
  ModelVersion(std::string model_name, VersionSpec spec, std::shared_ptr<Engine> engine,
               const RequestLimits& limits);

  std::string model_name_;
  VersionSpec spec_;
  std::shared_ptr<Engine> engine_;
  std::unique_ptr<ServedModel> served_;
  ModelContext ctx_;
};

// Greedy completion of PROMPT (the model's BOS added), MAX_TOKENS tokens at most: the text.
std::string greedy_completion(Engine& engine, const std::string& prompt, int max_tokens);

}  // namespace llm
