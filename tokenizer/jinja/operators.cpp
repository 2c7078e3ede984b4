#include "tokenizer/jinja/operators.h"

#include <cmath>
#include <limits>

#include "tokenizer/jinja/budget.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/percent_format.h"
#include "tokenizer/jinja/unicode.h"

namespace llm::jinja {
namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
  throw_runtime("unsupported operand type(s) for " + std::string(op) + ": '" + a.type_name() +
                "' and '" + b.type_name() + "'");
}

[[noreturn]] void overflow() {
  throw_runtime("integer overflow (values are limited to 64 bits)");
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

Value repeat(const Value& seq, int64_t count, Budget& budget) {
  if (count < 0) count = 0;
  const auto n = static_cast<size_t>(count);
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && n > budget.limits().max_output_bytes / s.size() + 1) {
      budget.text(budget.limits().max_output_bytes + 1);
    }
    budget.text(s.size() * n);
    std::string out;
    out.reserve(s.size() * n);
    for (size_t i = 0; i < n; ++i) out += s;
    return Value::string(std::move(out));
  }
  const auto& items = seq.items();
  if (!items.empty() && n > budget.limits().max_list_items / items.size() + 1) {
    budget.items(budget.limits().max_list_items + 1);
  }
  budget.items(items.size() * n);
  std::vector<Value> out;
  out.reserve(items.size() * n);
  for (size_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.is_tuple());
}

Value add(const Value& a, const Value& b, Budget& budget) {
  if (a.is_integral() && b.is_integral()) {
    int64_t r;
    if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) overflow();
    return Value::integer(r);
  }
  if (a.is_number() && b.is_number()) return Value::number(a.as_float() + b.as_float());
  if (a.is_string()) {
    if (!b.is_string()) {
      throw_runtime(std::string("can only concatenate str (not \"") + b.type_name() + "\") to str");
    }
    budget.text(a.as_string().size() + b.as_string().size());
    return Value::string(a.as_string() + b.as_string());
  }
  if (a.is_list() && !a.is_generator()) {
    if (!b.is_list() || a.is_tuple() != b.is_tuple() || b.is_generator()) {
      throw_runtime(std::string("can only concatenate ") + a.type_name() + " (not \"" +
                    b.type_name() + "\") to " + a.type_name());
    }
    budget.items(a.items().size() + b.items().size());
    std::vector<Value> items = a.items();
    items.insert(items.end(), b.items().begin(), b.items().end());
    return Value::list(std::move(items), a.is_tuple());
  }
  unsupported("+", a, b);
}

Value int_pow(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if ((exp & 1) != 0 && __builtin_mul_overflow(result, base, &result)) overflow();
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
  }
  return Value::integer(result);
}

// Python's float floor division and modulo (the result of % takes the divisor's sign).
void float_divmod(double x, double y, double* div, double* mod) {
  double m = std::fmod(x, y);
  double d = (x - m) / y;
  if (m != 0) {
    if ((y < 0) != (m < 0)) {
      m += y;
      d -= 1.0;
    }
  } else {
    m = std::copysign(0.0, y);
  }
  double floor_d = 0;
  if (d != 0) {
    floor_d = std::floor(d);
    if (d - floor_d > 0.5) floor_d += 1.0;
  } else {
    floor_d = std::copysign(0.0, x / y);
  }
  *div = floor_d;
  *mod = m;
}

Value arithmetic(std::string_view op, const Value& a, const Value& b) {
  if (!a.is_number() || !b.is_number()) unsupported(op, a, b);
  const bool ints = a.is_integral() && b.is_integral();
  if (op == "/") {
    if (b.as_float() == 0) throw_runtime("division by zero");
    return Value::number(a.as_float() / b.as_float());
  }
  if (op == "**") {
    if (ints && b.as_int() >= 0) return int_pow(a.as_int(), b.as_int());
    if (a.as_float() == 0 && b.as_float() < 0) {
      throw_runtime("0.0 cannot be raised to a negative power");
    }
    const double r = std::pow(a.as_float(), b.as_float());
    if (std::isnan(r) && !std::isnan(a.as_float()) && !std::isnan(b.as_float())) {
      throw_runtime("a negative number cannot be raised to a fractional power");
    }
    return Value::number(r);
  }
  if (ints) {
    const int64_t x = a.as_int();
    const int64_t y = b.as_int();
    int64_t r = 0;
    if (op == "-") {
      if (__builtin_sub_overflow(x, y, &r)) overflow();
      return Value::integer(r);
    }
    if (op == "*") {
      if (__builtin_mul_overflow(x, y, &r)) overflow();
      return Value::integer(r);
    }
    if (y == 0) throw_runtime("integer division or modulo by zero");
    if (x == std::numeric_limits<int64_t>::min() && y == -1) overflow();
    if (op == "//") {
      int64_t q = x / y;
      if (x % y != 0 && ((x < 0) != (y < 0))) --q;
      return Value::integer(q);
    }
    int64_t m = x % y;  // "%"
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    return Value::integer(m);
  }
  const double x = a.as_float();
  const double y = b.as_float();
  if (op == "-") return Value::number(x - y);
  if (op == "*") return Value::number(x * y);
  if (y == 0) throw_runtime(op == "//" ? "float floor division by zero" : "float modulo");
  double div;
  double mod;
  float_divmod(x, y, &div, &mod);
  return Value::number(op == "//" ? div : mod);
}

int64_t slice_index(const Value* v) {
  if (!v->is_integral()) {
    throw_runtime("slice indices must be integers or None or have an __index__ method");
  }
  return v->as_int();
}

}  // namespace

Value binary_op(std::string_view op, const Value& a, const Value& b, Budget& budget) {
  require_defined(a);
  // str % Undefined works in Python: Undefined can be indexed, so it counts as a mapping.
  if (op == "%" && a.is_string()) return Value::string(percent_format(a.as_string(), b, budget));
  require_defined(b);
  if (op == "+") return add(a, b, budget);
  const auto sequence = [](const Value& v) {
    return v.is_string() || (v.is_list() && !v.is_generator());
  };
  if (op == "*") {
    if (sequence(a) && b.is_integral()) return repeat(a, b.as_int(), budget);
    if (sequence(b) && a.is_integral()) return repeat(b, a.as_int(), budget);
    if ((a.is_string() || a.is_list()) || (b.is_string() || b.is_list())) {
      const Value& other = (a.is_string() || a.is_list()) ? b : a;
      throw_runtime(std::string("can't multiply sequence by non-int of type '") +
                    other.type_name() + "'");
    }
  }
  return arithmetic(op, a, b);
}

Value negate(const Value& v) {
  require_defined(v);
  if (v.is_integral()) {
    if (v.as_int() == std::numeric_limits<int64_t>::min()) overflow();
    return Value::integer(-v.as_int());
  }
  if (v.is_float()) return Value::number(-v.as_float());
  throw_runtime(std::string("bad operand type for unary -: '") + v.type_name() + "'");
}

Value unary_plus(const Value& v) {
  require_defined(v);
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.is_float()) return v;
  throw_runtime(std::string("bad operand type for unary +: '") + v.type_name() + "'");
}

Value get_attr(const Value& object, std::string_view name) {
  require_defined(object);
  switch (object.kind()) {
    case Value::Kind::kMap: {
      Value m = method(object, name);  // Python attributes (dict.items) win over keys
      if (!m.is_undefined()) return m;
      const Value* v = object.as_map().find(name);
      return v != nullptr ? *v : undefined_attribute(object, name);
    }
    case Value::Kind::kNamespace: {
      const Value* v = object.as_namespace().find(name);
      return v != nullptr ? *v : undefined_attribute(object, name);
    }
    case Value::Kind::kString:
    case Value::Kind::kList: {
      Value m = method(object, name);
      return m.is_undefined() ? undefined_attribute(object, name) : m;
    }
    default:
      return undefined_attribute(object, name);
  }
}

Value get_item(const Value& object, const Value& key, Budget& budget) {
  require_defined(object);
  switch (object.kind()) {
    case Value::Kind::kMap:
      if (key.is_string()) {
        const Value* v = object.as_map().find(key.as_string());
        if (v != nullptr) return *v;
        return get_attr(object, key.as_string());
      }
      return undefined_element(object, key);
    case Value::Kind::kList:
    case Value::Kind::kString: {
      if (object.is_generator()) return undefined_element(object, key);  // not subscriptable
      if (key.is_string()) return get_attr(object, key.as_string());
      if (!key.is_integral()) return undefined_element(object, key);
      const int64_t n = length(object, budget);
      int64_t i = key.as_int();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return undefined_element(object, key);
      if (object.is_list()) return object.items()[static_cast<size_t>(i)];
      const std::string& s = object.as_string();
      if (is_ascii(s)) return Value::string(s.substr(static_cast<size_t>(i), 1));
      const std::vector<size_t> off = unicode::offsets(s);
      const auto k = static_cast<size_t>(i);
      return Value::string(s.substr(off[k], off[k + 1] - off[k]));
    }
    case Value::Kind::kNamespace:
      if (key.is_string()) return get_attr(object, key.as_string());
      return undefined_element(object, key);
    default:
      return undefined_element(object, key);
  }
}

Value slice(const Value& object, const Value* start_v, const Value* stop_v, const Value* step_v,
            Budget& budget) {
  require_defined(object);
  // Jinja compiles slices to plain Python subscripts, so these fail instead of giving
  // undefined like other lookups.
  if (object.is_map()) throw_runtime("unhashable type: 'slice'");
  if ((!object.is_list() && !object.is_string()) || object.is_generator()) {
    throw_runtime(std::string("'") + object.type_name() + "' object is not subscriptable");
  }
  const auto omitted = [](const Value* v) { return v == nullptr || v->is_none(); };
  const int64_t step = omitted(step_v) ? 1 : slice_index(step_v);
  if (step == 0) throw_runtime("slice step cannot be zero");
  const int64_t n = length(object, budget);
  const auto clamp = [&](const Value* v, int64_t fallback) {
    if (omitted(v)) return fallback;
    int64_t i = slice_index(v);
    if (i < 0) {
      i += n;
      if (i < 0) i = step < 0 ? -1 : 0;
    } else if (i >= n) {
      i = step < 0 ? n - 1 : n;
    }
    return i;
  };
  const int64_t start = clamp(start_v, step < 0 ? n - 1 : 0);
  const int64_t stop = clamp(stop_v, step < 0 ? -1 : n);
  std::vector<int64_t> picked;
  if (step > 0) {
    for (int64_t i = start; i < stop; i += step) picked.push_back(i);
  } else {
    for (int64_t i = start; i > stop; i += step) picked.push_back(i);
  }
  if (object.is_list()) {
    budget.items(picked.size());
    std::vector<Value> out;
    out.reserve(picked.size());
    for (int64_t i : picked) out.push_back(object.items()[static_cast<size_t>(i)]);
    return Value::list(std::move(out), object.is_tuple());
  }
  const std::string& s = object.as_string();
  std::string out;
  budget.step(s.size() / 64);  // the scans below are linear in the whole string
  if (step == 1 && is_ascii(s)) {
    out = s.substr(static_cast<size_t>(start), picked.size());
  } else {
    const std::vector<size_t> off = unicode::offsets(s);
    for (int64_t i : picked) {
      const auto k = static_cast<size_t>(i);
      out.append(s, off[k], off[k + 1] - off[k]);
    }
  }
  budget.text(out.size());
  return Value::string(std::move(out));
}

std::vector<Value> iterate(const Value& v, Budget& budget) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kList:
      budget.step(v.items().size() / 16);
      return v.items();
    case Value::Kind::kMap: {
      budget.items(v.as_map().size());
      std::vector<Value> keys;
      keys.reserve(v.as_map().size());
      for (const auto& [key, item] : v.as_map().entries()) keys.push_back(Value::string(key));
      return keys;
    }
    case Value::Kind::kString: {
      const std::string& s = v.as_string();
      const std::vector<size_t> off = unicode::offsets(s);
      budget.items(off.size() - 1);
      std::vector<Value> chars;
      chars.reserve(off.size() - 1);
      for (size_t i = 0; i + 1 < off.size(); ++i) {
        chars.push_back(Value::string(s.substr(off[i], off[i + 1] - off[i])));
      }
      return chars;
    }
    default:
      throw_runtime(std::string("'") + v.type_name() + "' object is not iterable");
  }
}

int64_t length(const Value& v, Budget& budget) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return 0;
    case Value::Kind::kString:
      budget.step(v.as_string().size() / 64);
      return static_cast<int64_t>(unicode::length(v.as_string()));
    case Value::Kind::kList:
      if (v.is_generator()) break;
      return static_cast<int64_t>(v.items().size());
    case Value::Kind::kMap:
      return static_cast<int64_t>(v.as_map().size());
    default:
      break;
  }
  throw_runtime(std::string("object of type '") + v.type_name() + "' has no len()");
}

}  // namespace llm::jinja
