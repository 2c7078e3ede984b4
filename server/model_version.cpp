#include "server/model_version.h"

#include "llm/error.h"
#include "tokenizer/tokenizer.h"

namespace llm {

std::string greedy_completion(Engine& engine, const std::string& prompt, int max_tokens) {
  Request r;
  r.prompt_token_ids = engine.tokenizer().encode(prompt);
  r.params.max_tokens = max_tokens;
  r.params.temperature = 0;
  auto stream = engine.submit(r);
  std::string text;
  while (auto ev = stream->next()) text += ev->text;
  return text;
}

ModelVersion::ModelVersion(std::string model_name, VersionSpec spec, std::shared_ptr<Engine> engine,
                           const RequestLimits& limits)
    : model_name_(std::move(model_name)), spec_(std::move(spec)), engine_(std::move(engine)) {
  served_ = std::make_unique<ServedModel>(*engine_, spec_.model, model_name_, spec_.chat);
  ctx_ = served_->context();
  ctx_.limits = limits;
}

std::shared_ptr<ModelVersion> ModelVersion::load(const ModelSpec& model, const VersionSpec& version,
                                                 const RequestLimits& limits) {
  std::shared_ptr<Engine> engine = Engine::create(version.engine);
  std::shared_ptr<ModelVersion> v(new ModelVersion(model.name, version, std::move(engine), limits));
  // One token per warm-up prompt, so the first real request does not pay for cold caches.
  const std::vector<std::string> warmup =
      model.warmup_prompts.empty() ? std::vector<std::string>{"Hello"} : model.warmup_prompts;
  for (const std::string& p : warmup) greedy_completion(*v->engine_, p, 1);
  for (size_t i = 0; i < model.golden.size(); ++i) {
    const GoldenCase& g = model.golden[i];
    const std::string got = greedy_completion(*v->engine_, g.prompt, g.max_tokens);
    if (got != g.expected) {
      throw Error(ErrorCode::kInvalidArgument,
                  "model '" + model.name + "' version '" + version.version + "': golden case " +
                      std::to_string(i) + " (prompt '" + g.prompt + "') expected '" + g.expected +
                      "' but the version wrote '" + got + "'");
    }
  }
  return v;
}

}  // namespace llm
