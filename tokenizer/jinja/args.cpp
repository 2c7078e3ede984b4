#include "tokenizer/jinja/args.h"

#include "tokenizer/jinja/error.h"

namespace llm::jinja {

Args::Args(std::string_view function, const CallArgs& args,
           std::initializer_list<std::string_view> params, size_t required)
    : function_(function), params_(params), bound_(params.size(), nullptr) {
  if (args.positional.size() > params_.size()) {
    throw_runtime(function_ + "() takes at most " + std::to_string(params_.size()) +
                  " argument(s) (" + std::to_string(args.positional.size()) + " given)");
  }
  for (size_t i = 0; i < args.positional.size(); ++i) bound_[i] = &args.positional[i];
  for (const auto& [name, value] : args.keyword) {
    size_t i = 0;
    while (i < params_.size() && params_[i] != name) ++i;
    if (i == params_.size()) {
      throw_runtime(function_ + "() got an unexpected keyword argument '" + name + "'");
    }
    if (bound_[i] != nullptr) {
      throw_runtime(function_ + "() got multiple values for argument '" + name + "'");
    }
    bound_[i] = &value;
  }
  for (size_t i = 0; i < required; ++i) {
    if (bound_[i] == nullptr) {
      throw_runtime(function_ + "() missing required argument '" + std::string(params_[i]) + "'");
    }
  }
}

const Value& Args::get(size_t i) const {
  static const Value kUndefined;
  return bound_[i] != nullptr ? *bound_[i] : kUndefined;
}

int64_t Args::integer(size_t i, int64_t fallback) const {
  const Value& v = get(i);
  if (v.is_undefined() || v.is_none()) return fallback;
  if (!v.is_integral()) {
    throw_runtime(function_ + "(): argument '" + std::string(params_[i]) +
                  "' must be an integer, not " + v.type_name());
  }
  return v.as_int();
}

bool Args::flag(size_t i, bool fallback) const {
  const Value& v = get(i);
  return v.is_undefined() ? fallback : truthy(v);
}

std::string Args::string(size_t i, std::string_view fallback) const {
  const Value& v = get(i);
  if (v.is_undefined() || v.is_none()) return std::string(fallback);
  if (!v.is_string()) {
    throw_runtime(function_ + "(): argument '" + std::string(params_[i]) +
                  "' must be a string, not " + v.type_name());
  }
  return v.as_string();
}

}  // namespace llm::jinja
