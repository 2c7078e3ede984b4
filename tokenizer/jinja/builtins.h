// The Python methods templates call on values (str.strip, dict.items, ...) and the global
// functions every template sees (range, namespace, dict, raise_exception).
#pragma once

#include <string_view>

#include "tokenizer/jinja/value.h"

namespace llm::jinja {

// `object.name` as a bound method, or undefined when the type has no such method. Methods
// that would mutate (list.append, dict.update) exist but fail when called, as in Jinja's
// immutable sandbox.
Value method(const Value& object, std::string_view name);

// Adds range, namespace, dict and raise_exception to `globals`.
void install_builtins(MapData& globals);

// Python's str.split / str.rsplit (sep none: runs of whitespace).
std::vector<Value> split_string(std::string_view s, const Value& sep, int64_t maxsplit,
                                bool from_right, Budget& budget);
// str.replace with a count (-1: all).
std::string replace_string(std::string_view s, std::string_view old_text, std::string_view new_text,
                           int64_t count, Budget& budget);

}  // namespace llm::jinja
