#include "tokenizer/hf/post_processor.h"

namespace llm::hf {
namespace {

class TemplateProcessor final : public PostProcessor {
 public:
  TemplateProcessor(std::vector<TokenId> before, std::vector<TokenId> after)
      : before_(std::move(before)), after_(std::move(after)) {}
  // Processors in a Sequence each see the previous one's output: the outer ids go outside.
  void wrap(std::vector<TokenId>& before, std::vector<TokenId>& after) const override {
    before.insert(before.begin(), before_.begin(), before_.end());
    after.insert(after.end(), after_.begin(), after_.end());
  }

 private:
  std::vector<TokenId> before_;
  std::vector<TokenId> after_;
};

class IdentityProcessor final : public PostProcessor {
 public:
  void wrap(std::vector<TokenId>&, std::vector<TokenId>&) const override {}
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
      : steps_(std::move(steps)) {}
  void wrap(std::vector<TokenId>& before, std::vector<TokenId>& after) const override {
    for (const auto& step : steps_) step->wrap(before, after);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

}  // namespace

std::unique_ptr<PostProcessor> make_template(std::vector<TokenId> before,
                                             std::vector<TokenId> after) {
  return std::make_unique<TemplateProcessor>(std::move(before), std::move(after));
}
std::unique_ptr<PostProcessor> make_identity() {
  return std::make_unique<IdentityProcessor>();
}
std::unique_ptr<PostProcessor> make_sequence_processor(
    std::vector<std::unique_ptr<PostProcessor>> steps) {
  return std::make_unique<SequenceProcessor>(std::move(steps));
}

}  // namespace llm::hf
