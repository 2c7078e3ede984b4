// Internal to the filter implementation files: the built-in filters (filters.cpp maps
// names to them) and small helpers they share.
#pragma once

#include <string>
#include <vector>

#include "tokenizer/jinja/budget.h"
#include "tokenizer/jinja/format.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"

namespace llm::jinja::builtin_filters {

inline std::string str(Interpreter& in, const Value& v) {
  return to_str(v, in.budget());
}

inline Value text(Interpreter& in, std::string s) {
  in.budget().text(s.size());
  return Value::string(std::move(s));
}

inline Value list_of(Interpreter& in, std::vector<Value> items) {
  in.budget().items(items.size());
  return Value::list(std::move(items));
}

// The filters Jinja implements as generators return one.
inline Value generator_of(Interpreter& in, std::vector<Value> items) {
  in.budget().items(items.size());
  return Value::generator(std::move(items));
}

// Text, number and object filters (text_filters.cpp).
Value f_abs(Interpreter& in, const Value& input, CallArgs& args);
Value f_attr(Interpreter& in, const Value& input, CallArgs& args);
Value f_capitalize(Interpreter& in, const Value& input, CallArgs& args);
Value f_default(Interpreter& in, const Value& input, CallArgs& args);
Value f_escape(Interpreter& in, const Value& input, CallArgs& args);
Value f_format(Interpreter& in, const Value& input, CallArgs& args);
Value f_float(Interpreter& in, const Value& input, CallArgs& args);
Value f_int(Interpreter& in, const Value& input, CallArgs& args);
Value f_indent(Interpreter& in, const Value& input, CallArgs& args);
Value f_lower(Interpreter& in, const Value& input, CallArgs& args);
Value f_upper(Interpreter& in, const Value& input, CallArgs& args);
Value f_replace(Interpreter& in, const Value& input, CallArgs& args);
Value f_round(Interpreter& in, const Value& input, CallArgs& args);
Value f_safe(Interpreter& in, const Value& input, CallArgs& args);
Value f_string(Interpreter& in, const Value& input, CallArgs& args);
Value f_title(Interpreter& in, const Value& input, CallArgs& args);
Value f_tojson(Interpreter& in, const Value& input, CallArgs& args);
Value f_trim(Interpreter& in, const Value& input, CallArgs& args);
Value f_wordcount(Interpreter& in, const Value& input, CallArgs& args);

// Filters over sequences and mappings (sequence_filters.cpp).
Value f_dictsort(Interpreter& in, const Value& input, CallArgs& args);
Value f_first(Interpreter& in, const Value& input, CallArgs& args);
Value f_last(Interpreter& in, const Value& input, CallArgs& args);
Value f_items(Interpreter& in, const Value& input, CallArgs& args);
Value f_join(Interpreter& in, const Value& input, CallArgs& args);
Value f_length(Interpreter& in, const Value& input, CallArgs& args);
Value f_list(Interpreter& in, const Value& input, CallArgs& args);
Value f_map(Interpreter& in, const Value& input, CallArgs& args);
Value f_max(Interpreter& in, const Value& input, CallArgs& args);
Value f_min(Interpreter& in, const Value& input, CallArgs& args);
Value f_select(Interpreter& in, const Value& input, CallArgs& args);
Value f_reject(Interpreter& in, const Value& input, CallArgs& args);
Value f_selectattr(Interpreter& in, const Value& input, CallArgs& args);
Value f_rejectattr(Interpreter& in, const Value& input, CallArgs& args);
Value f_reverse(Interpreter& in, const Value& input, CallArgs& args);
Value f_sort(Interpreter& in, const Value& input, CallArgs& args);
Value f_sum(Interpreter& in, const Value& input, CallArgs& args);
Value f_unique(Interpreter& in, const Value& input, CallArgs& args);

}  // namespace llm::jinja::builtin_filters
