// Jinja2's filters over sequences and mappings. Those Jinja implements as generators
// (map, select, reject, unique, items, reverse) return generator values.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <unordered_set>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/filter_support.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/unicode.h"

namespace llm::jinja::builtin_filters {
namespace {

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
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
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
      for (const Value& part :
           split_string(attribute.as_string(), Value::string(","), -1, false, in.budget())) {
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
      for (const Value& a : attributes) {
        parts.push_back(fold_case(get_path(in, item, a), case_sensitive));
      }
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
    rest.positional.assign(call.positional.begin() + static_cast<ptrdiff_t>(off) + 1,
                           call.positional.end());
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

}  // namespace

Value f_dictsort(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("dictsort", call, {"case_sensitive", "by", "reverse"});
  if (!v.is_map()) throw_runtime("dictsort expects a mapping");
  const std::string by = a.string(1, "key");
  if (by != "key" && by != "value") {
    throw_runtime("You can only sort by either \"key\" or \"value\"");
  }
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

Value f_first(Interpreter& in, const Value& v, CallArgs& call) {
  Args("first", call, {});
  if (v.is_list()) {
    return v.items().empty() ? Value::undefined("No first item, sequence was empty.")
                             : v.items().front();
  }
  const std::vector<Value> items = iterate(v, in.budget());
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Interpreter& in, const Value& v, CallArgs& call) {
  Args("last", call, {});
  if (v.is_generator()) throw_runtime("'generator' object is not reversible");
  if (v.is_list()) {
    return v.items().empty() ? Value::undefined("No last item, sequence was empty.")
                             : v.items().back();
  }
  const std::vector<Value> items = iterate(v, in.budget());
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
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

Value f_max(Interpreter& in, const Value& v, CallArgs& call) {
  return min_max(in, v, call, true);
}

Value f_min(Interpreter& in, const Value& v, CallArgs& call) {
  return min_max(in, v, call, false);
}

Value f_select(Interpreter& in, const Value& v, CallArgs& c) {
  return select_or_reject(in, v, c, false, true);
}

Value f_reject(Interpreter& in, const Value& v, CallArgs& c) {
  return select_or_reject(in, v, c, false, false);
}

Value f_selectattr(Interpreter& in, const Value& v, CallArgs& c) {
  return select_or_reject(in, v, c, true, true);
}

Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& c) {
  return select_or_reject(in, v, c, true, false);
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

Value f_sum(Interpreter& in, const Value& v, CallArgs& call) {
  Args a("sum", call, {"attribute", "start"});
  Value total = a.has(1) ? a.get(1) : Value::integer(0);
  for (const Value& item : iterate(v, in.budget())) {
    total = binary_op("+", total, a.has(0) ? get_path(in, item, a.get(0)) : item, in.budget());
  }
  return total;
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

}  // namespace llm::jinja::builtin_filters
