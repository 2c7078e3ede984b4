// Python's text forms of values: str() (what {{ x }} prints), repr() (inside containers, the
// `string` filter), float repr, and json.dumps as transformers' `tojson` calls it.
#pragma once

#include <string>
#include <string_view>

#include "tokenizer/jinja/value.h"

namespace llm::jinja {

// repr(float): shortest round-trip digits, exponent form outside [1e-4, 1e16).
std::string format_float(double d);
// A decimal floating-point literal (digits, '.', exponent, optional leading '-') read as
// Python reads it, whatever the process locale: too large is inf, too small 0. False when
// `text` is not such a literal.
bool parse_float_literal(std::string_view text, double* out);
// repr(str): single quotes unless the text has ' and no ", escapes as Python does.
std::string repr_string(std::string_view s);

// str(v) / repr(v) appended to `out`; both throw a TemplateError once `out` outgrows the
// budget's text limit.
void append_str(std::string& out, const Value& v, Budget& budget);
void append_repr(std::string& out, const Value& v, Budget& budget);
std::string to_str(const Value& v, Budget& budget);

struct JsonOptions {
  bool ensure_ascii = false;
  bool indent = false;  // when set, newlines and `indent_text` per level
  std::string indent_text;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};

// json.dumps(v, ...). Undefined, namespaces and callables are not serializable (TypeError in
// Python): a TemplateError here.
std::string to_json(const Value& v, const JsonOptions& options, Budget& budget);

}  // namespace llm::jinja
