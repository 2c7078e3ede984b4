// Binds a call's positional and keyword arguments to named parameters, Python-style, for
// the built-in functions, methods and filters.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace llm::jinja {

class Args {
 public:
  // `params` in declaration order; the first `required` must be given. Throws a
  // TemplateError for too many positionals, unknown or repeated keywords, missing ones.
  Args(std::string_view function, const CallArgs& args,
       std::initializer_list<std::string_view> params, size_t required = 0);

  bool has(size_t i) const { return bound_[i] != nullptr; }
  // Undefined when not given.
  const Value& get(size_t i) const;
  // Python None counts as "not given" for these.
  int64_t integer(size_t i, int64_t fallback) const;
  bool flag(size_t i, bool fallback) const;  // truthiness
  // A string argument, or `fallback` when absent / None; throws for other types.
  std::string string(size_t i, std::string_view fallback) const;

 private:
  std::string function_;
  std::vector<std::string_view> params_;
  std::vector<const Value*> bound_;
};

}  // namespace llm::jinja
