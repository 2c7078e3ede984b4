// Python's operators on template values, and Jinja's attribute / item lookup rules
// (`x.a` tries the attribute then the item; `x['a']` the item then the attribute; what is
// missing is undefined, not an error).
#pragma once

#include <string_view>

#include "tokenizer/jinja/value.h"

namespace llm::jinja {

// + - * / // % ** on two values, with Python's semantics and error messages. Integer
// overflow (Python would switch to big integers) is an error.
Value binary_op(std::string_view op, const Value& a, const Value& b, Budget& budget);
Value negate(const Value& v);
Value unary_plus(const Value& v);

Value get_attr(const Value& object, std::string_view name);
Value get_item(const Value& object, const Value& key, Budget& budget);
// object[start:stop:step]; null bounds are omitted ones.
Value slice(const Value& object, const Value* start, const Value* stop, const Value* step,
            Budget& budget);

// The items a for loop or filter iterates: list items, mapping keys, string characters;
// Undefined iterates as empty. Throws for values that are not iterable.
std::vector<Value> iterate(const Value& v, Budget& budget);
// Python len() (code points for strings); throws for values without a length.
int64_t length(const Value& v, Budget& budget);

}  // namespace llm::jinja
