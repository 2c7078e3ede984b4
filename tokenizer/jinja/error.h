// The one exception type the Jinja engine throws. The public ChatTemplate API turns it into
// llm::Error / ChatTemplateError; inside the engine it carries the source offset so that the
// message can name a line and column once the offset is known.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace llm::jinja {

class TemplateError : public std::runtime_error {
 public:
  enum class Kind {
    kSyntax,   // the template does not parse
    kRuntime,  // rendering failed (type error, undefined value, a limit was hit)
    kRaised,   // raise_exception(msg) from the template: the message is the user's text
  };
  static constexpr size_t kNoOffset = static_cast<size_t>(-1);

  TemplateError(Kind kind, const std::string& message, size_t offset = kNoOffset)
      : std::runtime_error(message), kind_(kind), offset_(offset) {}

  Kind kind() const { return kind_; }
  size_t offset() const { return offset_; }
  bool has_offset() const { return offset_ != kNoOffset; }
  void set_offset(size_t offset) { offset_ = offset; }

 private:
  Kind kind_;
  size_t offset_;
};

[[noreturn]] inline void throw_runtime(const std::string& message) {
  throw TemplateError(TemplateError::Kind::kRuntime, message);
}

}  // namespace llm::jinja
