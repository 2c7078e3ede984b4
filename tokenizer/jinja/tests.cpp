// Jinja2's built-in tests (jinja2/tests.py), for `x is name(args)` and select/reject.
#include <unordered_map>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/filters.h"
#include "tokenizer/jinja/format.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/unicode.h"

namespace llm::jinja {
namespace {

bool t_defined(Interpreter&, const Value& v, CallArgs& c) {
  Args("defined", c, {});
  return !v.is_undefined();
}
bool t_undefined(Interpreter&, const Value& v, CallArgs& c) {
  Args("undefined", c, {});
  return v.is_undefined();
}
bool t_none(Interpreter&, const Value& v, CallArgs& c) {
  Args("none", c, {});
  return v.is_none();
}
bool t_boolean(Interpreter&, const Value& v, CallArgs& c) {
  Args("boolean", c, {});
  return v.is_bool();
}
bool t_true(Interpreter&, const Value& v, CallArgs& c) {
  Args("true", c, {});
  return v.is_bool() && v.as_bool();
}
bool t_false(Interpreter&, const Value& v, CallArgs& c) {
  Args("false", c, {});
  return v.is_bool() && !v.as_bool();
}
bool t_integer(Interpreter&, const Value& v, CallArgs& c) {
  Args("integer", c, {});
  return v.is_int();  // bool is not an integer here, as in Jinja
}
bool t_float(Interpreter&, const Value& v, CallArgs& c) {
  Args("float", c, {});
  return v.is_float();
}
bool t_number(Interpreter&, const Value& v, CallArgs& c) {
  Args("number", c, {});
  return v.is_number();
}
bool t_string(Interpreter&, const Value& v, CallArgs& c) {
  Args("string", c, {});
  return v.is_string();
}
bool t_mapping(Interpreter&, const Value& v, CallArgs& c) {
  Args("mapping", c, {});
  return v.is_map();
}
// Undefined iterates (as empty) and has a length in Jinja, so it passes these two.
bool t_iterable(Interpreter&, const Value& v, CallArgs& c) {
  Args("iterable", c, {});
  return v.is_string() || v.is_list() || v.is_map() || v.is_undefined();
}
bool t_sequence(Interpreter&, const Value& v, CallArgs& c) {
  Args("sequence", c, {});
  return v.is_string() || (v.is_list() && !v.is_generator()) || v.is_map() || v.is_undefined();
}
bool t_callable(Interpreter&, const Value& v, CallArgs& c) {
  Args("callable", c, {});
  return v.is_callable() || v.is_undefined();
}
bool t_sameas(Interpreter&, const Value& v, CallArgs& c) {
  Args a("sameas", c, {"other"}, 1);
  return v.same_as(a.get(0));
}
bool t_escaped(Interpreter&, const Value&, CallArgs& c) {
  Args("escaped", c, {});
  return false;
}
bool t_in(Interpreter& in, const Value& v, CallArgs& c) {
  Args a("in", c, {"seq"}, 1);
  return contains(a.get(0), v, in.budget());
}
bool t_lower(Interpreter& in, const Value& v, CallArgs& c) {
  Args("lower", c, {});
  const std::string s = to_str(v, in.budget());
  return unicode::lower(s) == s && unicode::upper(s) != s;
}
bool t_upper(Interpreter& in, const Value& v, CallArgs& c) {
  Args("upper", c, {});
  const std::string s = to_str(v, in.budget());
  return unicode::upper(s) == s && unicode::lower(s) != s;
}
bool t_eq(Interpreter& in, const Value& v, CallArgs& c) {
  Args a("eq", c, {"other"}, 1);
  return equals(v, a.get(0), in.budget());
}
bool t_ne(Interpreter& in, const Value& v, CallArgs& c) {
  Args a("ne", c, {"other"}, 1);
  return !equals(v, a.get(0), in.budget());
}
std::partial_ordering order(Interpreter& in, const char* name, const Value& v, CallArgs& c) {
  Args a(name, c, {"other"}, 1);
  return compare(v, a.get(0), in.budget());
}
bool t_lt(Interpreter& in, const Value& v, CallArgs& c) {
  return order(in, "lt", v, c) < 0;
}
bool t_le(Interpreter& in, const Value& v, CallArgs& c) {
  return order(in, "le", v, c) <= 0;
}
bool t_gt(Interpreter& in, const Value& v, CallArgs& c) {
  return order(in, "gt", v, c) > 0;
}
bool t_ge(Interpreter& in, const Value& v, CallArgs& c) {
  return order(in, "ge", v, c) >= 0;
}
bool t_divisibleby(Interpreter& in, const Value& v, CallArgs& c) {
  Args a("divisibleby", c, {"num"}, 1);
  return equals(binary_op("%", v, a.get(0), in.budget()), Value::integer(0), in.budget());
}
bool t_even(Interpreter& in, const Value& v, CallArgs& c) {
  Args("even", c, {});
  return equals(binary_op("%", v, Value::integer(2), in.budget()), Value::integer(0), in.budget());
}
bool t_odd(Interpreter& in, const Value& v, CallArgs& c) {
  Args("odd", c, {});
  return equals(binary_op("%", v, Value::integer(2), in.budget()), Value::integer(1), in.budget());
}
bool t_filter(Interpreter&, const Value& v, CallArgs& c) {
  Args("filter", c, {});
  return v.is_string() && find_filter(v.as_string()) != nullptr;
}
bool t_test(Interpreter&, const Value& v, CallArgs& c) {
  Args("test", c, {});
  return v.is_string() && find_test(v.as_string()) != nullptr;
}

}  // namespace

TestFn find_test(std::string_view name) {
  static const std::unordered_map<std::string_view, TestFn> table = {
      {"defined", t_defined},
      {"undefined", t_undefined},
      {"none", t_none},
      {"boolean", t_boolean},
      {"true", t_true},
      {"false", t_false},
      {"integer", t_integer},
      {"float", t_float},
      {"number", t_number},
      {"string", t_string},
      {"mapping", t_mapping},
      {"iterable", t_iterable},
      {"sequence", t_sequence},
      {"callable", t_callable},
      {"sameas", t_sameas},
      {"escaped", t_escaped},
      {"in", t_in},
      {"lower", t_lower},
      {"upper", t_upper},
      {"eq", t_eq},
      {"equalto", t_eq},
      {"==", t_eq},
      {"ne", t_ne},
      {"!=", t_ne},
      {"lt", t_lt},
      {"lessthan", t_lt},
      {"<", t_lt},
      {"le", t_le},
      {"<=", t_le},
      {"gt", t_gt},
      {"greaterthan", t_gt},
      {">", t_gt},
      {"ge", t_ge},
      {">=", t_ge},
      {"divisibleby", t_divisibleby},
      {"even", t_even},
      {"odd", t_odd},
      {"filter", t_filter},
      {"test", t_test},
  };
  const auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace llm::jinja
