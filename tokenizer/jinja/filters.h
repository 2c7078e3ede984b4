// Jinja2's built-in filters (`x | name(args)`) and tests (`x is name(args)`), with
// transformers' `tojson`. Looked up by name at render time, so an unknown name in a branch
// that never runs is not an error (Jinja defers those inside conditions too).
#pragma once

#include <string_view>

#include "tokenizer/jinja/value.h"

namespace llm::jinja {

using FilterFn = Value (*)(Interpreter&, const Value& input, CallArgs& args);
using TestFn = bool (*)(Interpreter&, const Value& input, CallArgs& args);

// nullptr for unknown names.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

}  // namespace llm::jinja
