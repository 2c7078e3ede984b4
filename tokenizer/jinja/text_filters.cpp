// Jinja2's filters on strings, numbers and single values, with transformers' `tojson`.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/filter_support.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/percent_format.h"
#include "tokenizer/jinja/unicode.h"

namespace llm::jinja::builtin_filters {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ascii_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Python float(str): optional whitespace, sign, digits with single underscores, inf/nan.
bool parse_float(std::string_view s, double* out) {
  s = unicode::strip(s, true, true);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') {
      const bool between = i > 0 && i + 1 < s.size() && is_digit(s[i - 1]) && is_digit(s[i + 1]);
      if (!between) return false;
      continue;
    }
    if (!is_digit(c) && !is_ascii_letter(c) && c != '.' && c != '+' && c != '-') return false;
    clean.push_back(c);
  }
  if (clean.empty()) return false;
  std::string lowered = unicode::lower(clean);
  const std::string_view body =
      std::string_view(lowered).substr(lowered[0] == '+' || lowered[0] == '-');
  if (body == "inf" || body == "infinity" || body == "nan") {
    *out = body == "nan" ? NAN : (lowered[0] == '-' ? -INFINITY : INFINITY);
    return true;
  }
  if (body.find('x') != std::string_view::npos || body.empty() || body[0] == 'e') return false;
  std::string_view digits = clean;
  if (digits[0] == '+') digits.remove_prefix(1);
  return parse_float_literal(digits, out);
}

// Python int(str, base): whitespace, sign, digits with single underscores, optional prefix.
bool parse_int(std::string_view s, int64_t base, int64_t* out) {
  s = unicode::strip(s, true, true);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.size() > 2 && s[0] == '0') {
    const char p = static_cast<char>(s[1] | 0x20);
    if ((p == 'x' && base == 16) || (p == 'o' && base == 8) || (p == 'b' && base == 2)) {
      s.remove_prefix(2);
    }
  }
  if (s.empty() || s.front() == '_' || s.back() == '_') return false;
  uint64_t value = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (s[i - 1] == '_') return false;
      continue;
    }
    const char c = static_cast<char>(s[i] | 0x20);
    int d = c >= '0' && c <= '9' ? c - '0' : (c >= 'a' && c <= 'z') ? c - 'a' + 10 : 99;
    if (d >= base) return false;
    if (value > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(d)) /
                    static_cast<uint64_t>(base)) {
      throw_runtime("integer too large (values are limited to 64 bits)");
    }
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  *out = negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  return true;
}

int64_t float_to_int(double d) {
  if (std::isinf(d)) throw_runtime("cannot convert float infinity to integer");
  if (std::abs(d) >= 9.2e18) throw_runtime("integer too large (values are limited to 64 bits)");
  return static_cast<int64_t>(d);
}

// Python's round(x, n): correctly rounded, ties to even (printf rounds the exact binary value
// the same way).
double round_half_even(double x, int64_t precision) {
  if (!std::isfinite(x)) return x;
  if (precision >= 0) {
    char buf[512];
    const auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed,
                                 static_cast<int>(std::min<int64_t>(precision, 300)));
    double rounded = x;
    std::from_chars(buf, r.ptr, rounded);
    return rounded;
  }
  const double scale = std::pow(10.0, static_cast<double>(-precision));
  return std::nearbyint(x / scale) * scale;
}

}  // namespace

// --- filters ---

Value f_abs(Interpreter&, const Value& v, CallArgs& call) {
  Args("abs", call, {});
  if (v.is_integral()) return v.as_int() < 0 ? negate(v) : Value::integer(v.as_int());
  if (v.is_float()) return Value::number(std::abs(v.as_float()));
  throw_runtime(std::string("bad operand type for abs(): '") + v.type_name() + "'");
}

Value f_attr(Interpreter&, const Value& v, CallArgs& call) {
  Args a("attr", call, {"name"}, 1);
  const std::string name = a.string(0, "");
  Value m = method(v, name);
  if (!m.is_undefined()) return m;
  if (v.is_namespace()) {
    const Value* found = v.as_namespace().find(name);
    if (found != nullptr) return *found;
  }
  return undefined_attribute(v, name);
}

Value f_capitalize(Interpreter& in, const Value& v, CallArgs& call) {
  Args("capitalize", call, {});
  return Value::string(unicode::capitalize(str(in, v)));
}

Value f_default(Interpreter&, const Value& v, CallArgs& call) {
  Args a("default", call, {"default_value", "boolean"});
  const bool use_default = v.is_undefined() || (a.flag(1, false) && !truthy(v));
  if (!use_default) return v;
  return a.has(0) ? a.get(0) : Value::string("");
}

Value f_escape(Interpreter& in, const Value& v, CallArgs& call) {
  Args("escape", call, {});
  std::string out;
  for (char c : str(in, v)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return text(in, std::move(out));
}

Value f_format(Interpreter& in, const Value& v, CallArgs& call) {
  if (!call.positional.empty() && !call.keyword.empty()) {
    throw_runtime("can't handle positional and keyword arguments at the same time");
  }
  Value args;
  if (!call.keyword.empty()) {
    MapData map;
    for (const auto& [key, value] : call.keyword) map.set(key, value);
    args = Value::map(std::move(map));
  } else {
    args = Value::list(call.positional, true);
  }
  return Value::string(percent_format(str(in, v), args, in.budget()));
}

Value f_float(Interpreter&, const Value& v, CallArgs& call) {
  Args a("float", call, {"default"});
  const Value fallback = a.has(0) ? a.get(0) : Value::number(0.0);
  require_defined(v);
  if (v.is_number()) return Value::number(v.as_float());
  double d;
  if (v.is_string() && parse_float(v.as_string(), &d)) return Value::number(d);
  return fallback;
}

Value f_int(Interpreter&, const Value& v, CallArgs& call) {
  Args a("int", call, {"default", "base"});
  const Value fallback = a.has(0) ? a.get(0) : Value::integer(0);
  const int64_t base = a.integer(1, 10);
  if (base < 2 || base > 36) throw_runtime("int() base must be >= 2 and <= 36");
  require_defined(v);
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.is_float()) {
    return std::isnan(v.as_float()) ? fallback : Value::integer(float_to_int(v.as_float()));
  }
  if (!v.is_string()) return fallback;
  int64_t i;
  if (parse_int(v.as_string(), base, &i)) return Value::integer(i);
  double d;  // Jinja falls back to int(float(value))
  if (parse_float(v.as_string(), &d) && !std::isnan(d)) return Value::integer(float_to_int(d));
  return fallback;
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("indent", call, {"width", "first", "blank"});
  std::string pad;
  if (a.get(0).is_string()) {
    pad = a.get(0).as_string();
  } else {
    const int64_t width = a.integer(0, 4);
    in.budget().text(static_cast<size_t>(std::clamp<int64_t>(width, 0, INT32_MAX)));
    pad.assign(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
  }
  // Jinja appends "\n" to the value first, which only works for strings.
  if (!v.is_string()) {
    throw_runtime(std::string("unsupported operand type(s) for +=: '") + v.type_name() +
                  "' and 'str'");
  }
  CallArgs none;
  const Value lines_value =
      method(Value::string(v.as_string() + "\n"), "splitlines").as_callable().fn(in, none);
  const std::vector<Value>& lines = lines_value.items();
  std::string out;
  const bool blank = a.flag(2, false);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i].as_string();
    if (i > 0) {
      out += "\n";
      if (blank || !line.empty()) out += pad;
    }
    out += line;
    in.budget().text(out.size());
  }
  if (a.flag(1, false)) out = pad + out;
  return text(in, std::move(out));
}

Value f_lower(Interpreter& in, const Value& v, CallArgs& call) {
  Args("lower", call, {});
  return Value::string(unicode::lower(str(in, v)));
}

Value f_upper(Interpreter& in, const Value& v, CallArgs& call) {
  Args("upper", call, {});
  return Value::string(unicode::upper(str(in, v)));
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("replace", call, {"old", "new", "count"}, 2);
  return Value::string(replace_string(str(in, v), str(in, a.get(0)), str(in, a.get(1)),
                                      a.integer(2, -1), in.budget()));
}

Value f_round(Interpreter&, const Value& v, CallArgs& call) {
  Args a("round", call, {"precision", "method"});
  const int64_t precision = a.integer(0, 0);
  const std::string how = a.string(1, "common");
  if (how != "common" && how != "ceil" && how != "floor") {
    throw_runtime("method must be common, ceil or floor");
  }
  require_defined(v);
  if (!v.is_number()) {
    throw_runtime(std::string("type ") + v.type_name() + " doesn't define __round__ method");
  }
  if (how == "common") {
    if (v.is_integral() && precision >= 0) return Value::integer(v.as_int());
    return Value::number(round_half_even(v.as_float(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = v.as_float() * scale;
  return Value::number((how == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value f_safe(Interpreter& in, const Value& v, CallArgs& call) {
  Args("safe", call, {});
  return v.is_string() ? v : Value::string(str(in, v));
}

Value f_string(Interpreter& in, const Value& v, CallArgs& call) {
  Args("string", call, {});
  return v.is_string() ? v : Value::string(str(in, v));
}

Value f_title(Interpreter& in, const Value& v, CallArgs& call) {
  Args("title", call, {});
  // Jinja capitalizes each word that follows whitespace or one of - ( { [ <.
  const std::string s = str(in, v);
  std::string out;
  bool word_start = true;
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t len = unicode::decode(s, i, &cp);
    const bool separator =
        unicode::is_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    if (separator) {
      out.append(s, i, len);
      word_start = true;
    } else if (cp >= 0xDC80 && cp <= 0xDCFF) {
      out.append(s, i, len);
      word_start = false;
    } else {
      unicode::append(out, word_start ? unicode::to_upper(cp) : unicode::to_lower(cp));
      word_start = false;
    }
    i += len;
  }
  return Value::string(std::move(out));
}

Value f_tojson(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("tojson", call, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions options;
  options.ensure_ascii = a.flag(0, false);
  const Value& indent = a.get(1);
  if (indent.is_string()) {
    options.indent = true;
    options.indent_text = indent.as_string();
  } else if (indent.is_integral()) {
    options.indent = true;
    const int64_t n = std::clamp<int64_t>(indent.as_int(), 0, 1024);
    options.indent_text.assign(static_cast<size_t>(n), ' ');
  } else if (!indent.is_undefined() && !indent.is_none()) {
    throw_runtime("tojson(): indent must be an integer or a string");
  }
  if (options.indent) options.item_separator = ",";
  const Value& separators = a.get(2);
  if (separators.is_list()) {
    if (separators.items().size() != 2 || !separators.items()[0].is_string() ||
        !separators.items()[1].is_string()) {
      throw_runtime("tojson(): separators must be a pair of strings");
    }
    options.item_separator = separators.items()[0].as_string();
    options.key_separator = separators.items()[1].as_string();
  } else if (!separators.is_undefined() && !separators.is_none()) {
    throw_runtime("tojson(): separators must be a pair of strings");
  }
  options.sort_keys = a.flag(3, false);
  return Value::string(to_json(v, options, in.budget()));
}

Value f_trim(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("trim", call, {"chars"});
  const std::string s = str(in, v);
  if (!a.has(0) || a.get(0).is_none()) {
    return Value::string(std::string(unicode::strip(s, true, true)));
  }
  return Value::string(std::string(unicode::strip_chars(s, a.string(0, ""), true, true)));
}

Value f_wordcount(Interpreter& in, const Value& v, CallArgs& call) {
  Args("wordcount", call, {});
  const std::string s = str(in, v);
  int64_t words = 0;
  bool in_word = false;
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    i += unicode::decode(s, i, &cp);
    // \w: letters, digits and underscore (any non-ASCII letter counts).
    const bool word = (cp < 0x80 && (is_digit(static_cast<char>(cp)) ||
                                     is_ascii_letter(static_cast<char>(cp)) || cp == '_')) ||
                      (cp >= 0x80 && !unicode::is_space(cp) && unicode::is_printable(cp));
    if (word && !in_word) ++words;
    in_word = word;
  }
  return Value::integer(words);
}

}  // namespace llm::jinja::builtin_filters
