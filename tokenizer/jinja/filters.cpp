#include "tokenizer/jinja/filters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/budget.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/format.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/percent_format.h"
#include "tokenizer/jinja/unicode.h"

namespace llm::jinja {
namespace {

std::string str(Interpreter& in, const Value& v) { return to_str(v, in.budget()); }

Value text(Interpreter& in, std::string s) {
  in.budget().text(s.size());
  return Value::string(std::move(s));
}

Value list_of(Interpreter& in, std::vector<Value> items) {
  in.budget().items(items.size());
  return Value::list(std::move(items));
}

// The filters Jinja implements as generators return one.
Value generator_of(Interpreter& in, std::vector<Value> items) {
  in.budget().items(items.size());
  return Value::generator(std::move(items));
}

// Jinja's make_attrgetter: "a.b.0" looks up a, then b, then item 0.
Value get_path(Interpreter& in, const Value& item, const Value& attribute) {
  if (attribute.is_integral()) return get_item(item, attribute, in.budget());
  if (!attribute.is_string()) throw_runtime("attribute must be a string or an integer");
  Value current = item;
  const std::string& path = attribute.as_string();
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    current = digits && part.size() < 18
                  ? get_item(current, Value::integer(std::atoll(part.c_str())), in.budget())
                  : get_item(current, Value::string(part), in.budget());
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

// Case-insensitive comparisons lower strings only (Jinja's ignore_case).
Value fold_case(const Value& v, bool case_sensitive) {
  return (!case_sensitive && v.is_string()) ? Value::string(unicode::lower(v.as_string())) : v;
}

// The sort / min / max / unique key of each item: an attribute path (comma-separated for
// sort), case-folded unless case_sensitive.
std::vector<Value> keys_of(Interpreter& in, const std::vector<Value>& items, const Value& attribute,
                           bool case_sensitive, bool multi) {
  std::vector<Value> attributes;
  if (!attribute.is_undefined() && !attribute.is_none()) {
    if (multi && attribute.is_string()) {
      for (const Value& part : split_string(attribute.as_string(), Value::string(","), -1, false,
                                            in.budget())) {
        attributes.push_back(part);
      }
    } else {
      attributes.push_back(attribute);
    }
  }
  std::vector<Value> keys;
  keys.reserve(items.size());
  for (const Value& item : items) {
    in.budget().step();
    if (attributes.empty()) {
      keys.push_back(fold_case(item, case_sensitive));
    } else if (attributes.size() == 1) {
      keys.push_back(fold_case(get_path(in, item, attributes[0]), case_sensitive));
    } else {
      std::vector<Value> parts;
      for (const Value& a : attributes) parts.push_back(fold_case(get_path(in, item, a), case_sensitive));
      keys.push_back(Value::list(std::move(parts), true));
    }
  }
  return keys;
}

bool less(Interpreter& in, const Value& a, const Value& b) {
  return compare(a, b, in.budget()) == std::partial_ordering::less;
}

// Python's hash equality for set membership: 1 == 1.0 == True share a key.
std::string hash_key(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNone:
      return "N";
    case Value::Kind::kUndefined:
      return "U";
    case Value::Kind::kBool:
    case Value::Kind::kInt:
      return "I" + std::to_string(v.as_int());
    case Value::Kind::kFloat: {
      const double d = v.as_float();
      if (std::isfinite(d) && d == std::trunc(d) && std::abs(d) < 9.2e18) {
        return "I" + std::to_string(static_cast<int64_t>(d));
      }
      return "F" + format_float(d);
    }
    case Value::Kind::kString:
      return "S" + std::to_string(v.as_string().size()) + ":" + v.as_string();
    case Value::Kind::kList:
      if (v.is_tuple()) {
        std::string key = "T" + std::to_string(v.items().size());
        for (const Value& item : v.items()) key += "," + hash_key(item);
        return key;
      }
      [[fallthrough]];
    default:
      throw_runtime(std::string("unhashable type: '") + v.type_name() + "'");
  }
}

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

Value f_dictsort(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("dictsort", call, {"case_sensitive", "by", "reverse"});
  if (!v.is_map()) throw_runtime("dictsort expects a mapping");
  const std::string by = a.string(1, "key");
  if (by != "key" && by != "value") throw_runtime("You can only sort by either \"key\" or \"value\"");
  const size_t pos = by == "key" ? 0 : 1;
  std::vector<Value> pairs;
  for (const auto& [key, value] : v.as_map().entries()) {
    pairs.push_back(Value::list({Value::string(key), value}, true));
  }
  std::vector<Value> keys;
  for (const Value& p : pairs) keys.push_back(fold_case(p.items()[pos], a.flag(0, false)));
  std::vector<size_t> order(pairs.size());
  std::iota(order.begin(), order.end(), 0);
  const bool reverse = a.flag(2, false);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return reverse ? less(in, keys[y], keys[x]) : less(in, keys[x], keys[y]);
  });
  std::vector<Value> out;
  for (size_t i : order) out.push_back(pairs[i]);
  return list_of(in, std::move(out));
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

Value f_first(Interpreter& in, const Value& v, CallArgs& call) {
  Args("first", call, {});
  if (v.is_list()) return v.items().empty() ? Value::undefined("No first item, sequence was empty.") : v.items().front();
  const std::vector<Value> items = iterate(v, in.budget());
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Interpreter& in, const Value& v, CallArgs& call) {
  Args("last", call, {});
  if (v.is_generator()) throw_runtime("'generator' object is not reversible");
  if (v.is_list()) return v.items().empty() ? Value::undefined("No last item, sequence was empty.") : v.items().back();
  const std::vector<Value> items = iterate(v, in.budget());
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
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

// Python float(str): optional whitespace, sign, digits with single underscores, inf/nan.
bool parse_float(std::string_view s, double* out) {
  s = unicode::strip(s, true, true);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') {
      const bool between = i > 0 && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
                           std::isdigit(static_cast<unsigned char>(s[i + 1]));
      if (!between) return false;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '+' && c != '-') return false;
    clean.push_back(c);
  }
  if (clean.empty()) return false;
  std::string lowered = unicode::lower(clean);
  const std::string_view body = std::string_view(lowered).substr(lowered[0] == '+' || lowered[0] == '-');
  if (body == "inf" || body == "infinity" || body == "nan") {
    *out = body == "nan" ? NAN : (lowered[0] == '-' ? -INFINITY : INFINITY);
    return true;
  }
  if (body.find('x') != std::string_view::npos || body.empty() || body[0] == 'e') return false;
  char* end = nullptr;
  *out = std::strtod(clean.c_str(), &end);
  return end == clean.c_str() + clean.size();
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
    if ((p == 'x' && base == 16) || (p == 'o' && base == 8) || (p == 'b' && base == 2)) s.remove_prefix(2);
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
    if (value > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
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
  if (v.is_float()) return std::isnan(v.as_float()) ? fallback : Value::integer(float_to_int(v.as_float()));
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

Value f_items(Interpreter& in, const Value& v, CallArgs& call) {
  Args("items", call, {});
  if (v.is_undefined()) return Value::generator({});
  if (!v.is_map()) throw_runtime("Can only get item pairs from a mapping.");
  CallArgs none;
  return Value::generator(method(v, "items").as_callable().fn(in, none).items());
}

Value f_join(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("join", call, {"d", "attribute"});
  const std::string sep = a.has(0) ? str(in, a.get(0)) : "";
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v, in.budget())) {
    if (!first) out += sep;
    first = false;
    append_str(out, a.has(1) ? get_path(in, item, a.get(1)) : item, in.budget());
    in.budget().text(out.size());
  }
  return Value::string(std::move(out));
}

Value f_length(Interpreter& in, const Value& v, CallArgs& call) {
  Args("length", call, {});
  return Value::integer(length(v, in.budget()));
}

Value f_list(Interpreter& in, const Value& v, CallArgs& call) {
  Args("list", call, {});
  if (v.is_list() && !v.is_tuple() && !v.is_generator()) return v;
  return list_of(in, iterate(v, in.budget()));
}

Value f_lower(Interpreter& in, const Value& v, CallArgs& call) {
  Args("lower", call, {});
  return Value::string(unicode::lower(str(in, v)));
}

Value f_upper(Interpreter& in, const Value& v, CallArgs& call) {
  Args("upper", call, {});
  return Value::string(unicode::upper(str(in, v)));
}

Value f_map(Interpreter& in, const Value& v, CallArgs& call) {
  std::vector<Value> out;
  const std::vector<Value> items = iterate(v, in.budget());
  if (call.positional.empty()) {
    Args a("map", call, {"attribute", "default"}, 1);
    for (const Value& item : items) {
      Value x = get_path(in, item, a.get(0));
      if (x.is_undefined() && a.has(1) && !a.get(1).is_none()) x = a.get(1);
      out.push_back(std::move(x));
    }
    return generator_of(in, std::move(out));
  }
  if (!call.positional[0].is_string()) throw_runtime("map requires a filter name");
  const std::string name = call.positional[0].as_string();
  CallArgs rest;
  rest.positional.assign(call.positional.begin() + 1, call.positional.end());
  rest.keyword = call.keyword;
  for (const Value& item : items) {
    CallArgs args = rest;
    out.push_back(in.filter(name, item, args));
  }
  return generator_of(in, std::move(out));
}

Value min_max(Interpreter& in, const Value& v, CallArgs& call, bool want_max) {
  Args a(want_max ? "max" : "min", call, {"case_sensitive", "attribute"});
  const std::vector<Value> items = iterate(v, in.budget());
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const std::vector<Value> keys = keys_of(in, items, a.get(1), a.flag(0, false), false);
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    // Python's min/max keep the first of equal items.
    if (want_max ? less(in, keys[best], keys[i]) : less(in, keys[i], keys[best])) best = i;
  }
  return items[best];
}

Value f_max(Interpreter& in, const Value& v, CallArgs& call) { return min_max(in, v, call, true); }
Value f_min(Interpreter& in, const Value& v, CallArgs& call) { return min_max(in, v, call, false); }

Value select_or_reject(Interpreter& in, const Value& v, CallArgs& call, bool by_attribute,
                       bool select) {
  size_t off = 0;
  Value attribute;
  if (by_attribute) {
    if (call.positional.empty()) throw_runtime("Missing parameter for attribute name");
    attribute = call.positional[0];
    off = 1;
  }
  std::string test_name;
  CallArgs rest;
  if (call.positional.size() > off) {
    if (!call.positional[off].is_string()) throw_runtime("test name must be a string");
    test_name = call.positional[off].as_string();
    rest.positional.assign(call.positional.begin() + static_cast<ptrdiff_t>(off) + 1, call.positional.end());
    rest.keyword = call.keyword;
  }
  std::vector<Value> out;
  for (const Value& item : iterate(v, in.budget())) {
    in.budget().step();
    const Value subject = by_attribute ? get_path(in, item, attribute) : item;
    bool passed;
    if (test_name.empty()) {
      passed = truthy(subject);
    } else {
      CallArgs args = rest;
      passed = in.test(test_name, subject, args);
    }
    if (passed == select) out.push_back(item);
  }
  return generator_of(in, std::move(out));
}

Value f_select(Interpreter& in, const Value& v, CallArgs& c) { return select_or_reject(in, v, c, false, true); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& c) { return select_or_reject(in, v, c, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& c) { return select_or_reject(in, v, c, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& c) { return select_or_reject(in, v, c, true, false); }

Value f_replace(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("replace", call, {"old", "new", "count"}, 2);
  return Value::string(replace_string(str(in, v), str(in, a.get(0)), str(in, a.get(1)),
                                      a.integer(2, -1), in.budget()));
}

Value f_reverse(Interpreter& in, const Value& v, CallArgs& call) {
  Args("reverse", call, {});
  if (v.is_string()) {
    std::vector<Value> chars = iterate(v, in.budget());
    std::string out;
    for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->as_string();
    return Value::string(std::move(out));
  }
  std::vector<Value> items = iterate(v, in.budget());
  std::reverse(items.begin(), items.end());
  return generator_of(in, std::move(items));  // reversed()
}

// Python's round(x, n): correctly rounded, ties to even (printf rounds the exact binary value
// the same way).
double round_half_even(double x, int64_t precision) {
  if (!std::isfinite(x)) return x;
  if (precision >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::min<int64_t>(precision, 300)), x);
    return std::strtod(buf, nullptr);
  }
  const double scale = std::pow(10.0, static_cast<double>(-precision));
  return std::nearbyint(x / scale) * scale;
}

Value f_round(Interpreter&, const Value& v, CallArgs& call) {
  Args a("round", call, {"precision", "method"});
  const int64_t precision = a.integer(0, 0);
  const std::string how = a.string(1, "common");
  if (how != "common" && how != "ceil" && how != "floor") {
    throw_runtime("method must be common, ceil or floor");
  }
  require_defined(v);
  if (!v.is_number()) throw_runtime(std::string("type ") + v.type_name() + " doesn't define __round__ method");
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

Value f_sort(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("sort", call, {"reverse", "case_sensitive", "attribute"});
  std::vector<Value> items = iterate(v, in.budget());
  const std::vector<Value> keys = keys_of(in, items, a.get(2), a.flag(1, false), true);
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  const bool reverse = a.flag(0, false);
  // Python's sort with reverse=True keeps equal items in their original order too.
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return reverse ? less(in, keys[y], keys[x]) : less(in, keys[x], keys[y]);
  });
  std::vector<Value> out;
  out.reserve(items.size());
  for (size_t i : order) out.push_back(items[i]);
  return list_of(in, std::move(out));
}

Value f_string(Interpreter& in, const Value& v, CallArgs& call) {
  Args("string", call, {});
  return v.is_string() ? v : Value::string(str(in, v));
}

Value f_sum(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("sum", call, {"attribute", "start"});
  Value total = a.has(1) ? a.get(1) : Value::integer(0);
  for (const Value& item : iterate(v, in.budget())) {
    total = binary_op("+", total, a.has(0) ? get_path(in, item, a.get(0)) : item, in.budget());
  }
  return total;
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
    const bool separator = unicode::is_space(cp) || cp == '-' || cp == '(' || cp == '{' ||
                           cp == '[' || cp == '<';
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
  if (!a.has(0) || a.get(0).is_none()) return Value::string(std::string(unicode::strip(s, true, true)));
  return Value::string(std::string(unicode::strip_chars(s, a.string(0, ""), true, true)));
}

Value f_unique(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("unique", call, {"case_sensitive", "attribute"});
  const std::vector<Value> items = iterate(v, in.budget());
  const std::vector<Value> keys = keys_of(in, items, a.get(1), a.flag(0, false), false);
  std::unordered_set<std::string> seen;
  std::vector<Value> out;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string key = hash_key(keys[i]);
    in.budget().step(1 + key.size() / 64);
    if (seen.insert(std::move(key)).second) out.push_back(items[i]);
  }
  return generator_of(in, std::move(out));
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
    const bool word = (cp < 0x80 && (std::isalnum(static_cast<int>(cp)) || cp == '_')) ||
                      (cp >= 0x80 && !unicode::is_space(cp) && unicode::is_printable(cp));
    if (word && !in_word) ++words;
    in_word = word;
  }
  return Value::integer(words);
}

const std::unordered_map<std::string_view, FilterFn>& filters() {
  static const std::unordered_map<std::string_view, FilterFn> table = {
      {"abs", f_abs},
      {"attr", f_attr},
      {"capitalize", f_capitalize},
      {"count", f_length},
      {"d", f_default},
      {"default", f_default},
      {"dictsort", f_dictsort},
      {"e", f_escape},
      {"escape", f_escape},
      {"first", f_first},
      {"float", f_float},
      {"forceescape", f_escape},
      {"format", f_format},
      {"indent", f_indent},
      {"int", f_int},
      {"items", f_items},
      {"join", f_join},
      {"last", f_last},
      {"length", f_length},
      {"list", f_list},
      {"lower", f_lower},
      {"map", f_map},
      {"max", f_max},
      {"min", f_min},
      {"reject", f_reject},
      {"rejectattr", f_rejectattr},
      {"replace", f_replace},
      {"reverse", f_reverse},
      {"round", f_round},
      {"safe", f_safe},
      {"select", f_select},
      {"selectattr", f_selectattr},
      {"sort", f_sort},
      {"string", f_string},
      {"sum", f_sum},
      {"title", f_title},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"unique", f_unique},
      {"upper", f_upper},
      {"wordcount", f_wordcount},
  };
  return table;
}

}  // namespace

FilterFn find_filter(std::string_view name) {
  const auto it = filters().find(name);
  return it == filters().end() ? nullptr : it->second;
}

}  // namespace llm::jinja
