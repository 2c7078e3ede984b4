#include "tokenizer/jinja/value.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tokenizer/jinja/budget.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/format.h"

namespace llm::jinja {
namespace {

// Up to this many keys a linear scan beats hashing (messages, loop objects).
constexpr size_t kIndexThreshold = 16;

const std::string& empty_string() {
  static const std::string empty;
  return empty;
}

void check_depth(int depth) {
  if (depth > kMaxValueDepth) {
    throw_runtime("value nested too deeply (limit " + std::to_string(kMaxValueDepth) + ")");
  }
}

// Python compares int and float exactly; doubles hold every int below 2**53 exactly, and
// larger floats are integral, so compare those as integers when they fit.
std::partial_ordering compare_numbers(const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral()) return a.as_int() <=> b.as_int();
  const double x = a.as_float();
  const double y = b.as_float();
  if (a.is_integral() && std::isfinite(y) && std::abs(y) >= 9007199254740992.0 &&
      std::abs(y) < 9.2e18) {
    return a.as_int() <=> static_cast<int64_t>(y);
  }
  if (b.is_integral() && std::isfinite(x) && std::abs(x) >= 9007199254740992.0 &&
      std::abs(x) < 9.2e18) {
    return static_cast<int64_t>(x) <=> b.as_int();
  }
  return x <=> y;
}

[[noreturn]] void fail_order(const Value& a, const Value& b) {
  throw_runtime(std::string("'<' not supported between instances of '") + a.type_name() +
                "' and '" + b.type_name() + "'");
}

}  // namespace

Value Value::undefined(std::string hint) {
  Value v;
  v.data_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.data_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.data_ = i;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.data_ = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.data_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::list(std::vector<Value> items, bool tuple) {
  return make_list(std::move(items), tuple, false);
}

Value Value::generator(std::vector<Value> items) {
  return make_list(std::move(items), false, true);
}

Value Value::make_list(std::vector<Value> items, bool tuple, bool generator) {
  auto data = std::make_shared<ListData>();
  int depth = 0;
  bool has_ref = false;
  for (const Value& item : items) {
    depth = std::max(depth, item.depth());
    has_ref = has_ref || item.has_ref();
  }
  check_depth(depth + 1);
  data->items = std::move(items);
  data->tuple = tuple;
  data->generator = generator;
  data->depth = depth + 1;
  data->has_ref = has_ref;
  Value v;
  v.kind_ = Kind::kList;
  v.data_ = std::shared_ptr<const ListData>(std::move(data));
  return v;
}

Value Value::map(MapData map) {
  int depth = 0;
  bool has_ref = false;
  for (const auto& [key, item] : map.entries()) {
    depth = std::max(depth, item.depth());
    has_ref = has_ref || item.has_ref();
  }
  check_depth(depth + 1);
  map.depth_ = depth + 1;
  map.has_ref_ = has_ref;
  Value v;
  v.kind_ = Kind::kMap;
  v.data_ = std::make_shared<const MapData>(std::move(map));
  return v;
}

Value Value::ns(std::shared_ptr<Namespace> ns) {
  Value v;
  v.kind_ = Kind::kNamespace;
  v.data_ = std::move(ns);
  return v;
}

Value Value::callable(std::shared_ptr<const Callable> fn) {
  check_depth(fn->depth);
  Value v;
  v.kind_ = Kind::kCallable;
  v.data_ = std::move(fn);
  return v;
}

bool Value::is_tuple() const {
  return is_list() && std::get<ListPtr>(data_)->tuple;
}

bool Value::is_generator() const {
  return is_list() && std::get<ListPtr>(data_)->generator;
}

int64_t Value::as_int() const {
  return is_bool() ? static_cast<int64_t>(as_bool()) : std::get<int64_t>(data_);
}

double Value::as_float() const {
  return is_float() ? std::get<double>(data_) : static_cast<double>(as_int());
}

const std::vector<Value>& Value::items() const {
  return std::get<ListPtr>(data_)->items;
}

const std::string& Value::undefined_hint() const {
  const auto* hint = std::get_if<StringPtr>(&data_);
  return hint != nullptr && *hint ? **hint : empty_string();
}

int Value::depth() const {
  switch (kind_) {
    case Kind::kList:
      return std::get<ListPtr>(data_)->depth;
    case Kind::kMap:
      return as_map().depth();
    case Kind::kNamespace:
      return as_namespace().depth();
    case Kind::kCallable:
      return as_callable().depth;
    default:
      return 0;
  }
}

bool Value::has_ref() const {
  switch (kind_) {
    case Kind::kList:
      return std::get<ListPtr>(data_)->has_ref;
    case Kind::kMap:
      return as_map().has_ref();
    case Kind::kNamespace:
    case Kind::kCallable:
      return true;
    default:
      return false;
  }
}

const char* Value::type_name() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      return is_generator() ? "generator" : is_tuple() ? "tuple" : "list";
    case Kind::kMap:
      return "dict";
    case Kind::kNamespace:
      return "Namespace";
    case Kind::kCallable:
      return "function";
  }
  return "object";
}

bool Value::same_as(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kList:
      return std::get<ListPtr>(data_) == std::get<ListPtr>(other.data_);
    case Kind::kMap:
      return std::get<MapPtr>(data_) == std::get<MapPtr>(other.data_);
    case Kind::kNamespace:
      return std::get<NamespacePtr>(data_) == std::get<NamespacePtr>(other.data_);
    case Kind::kCallable:
      return std::get<CallablePtr>(data_) == std::get<CallablePtr>(other.data_);
    case Kind::kString:
      return as_string() == other.as_string();
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    default:
      return data_ == other.data_;
  }
}

size_t MapData::index_of(std::string_view key) const {
  if (!index_.empty()) {
    const auto it = index_.find(key);
    return it == index_.end() ? entries_.size() : it->second;
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].first == key) return i;
  }
  return entries_.size();
}

const Value* MapData::find(std::string_view key) const {
  const size_t i = index_of(key);
  return i == entries_.size() ? nullptr : &entries_[i].second;
}

void MapData::set(std::string key, Value value) {
  if (const size_t i = index_of(key); i != entries_.size()) {
    entries_[i].second = std::move(value);
    return;
  }
  entries_.emplace_back(std::move(key), std::move(value));
  if (!index_.empty()) {
    index_.emplace(entries_.back().first, entries_.size() - 1);
  } else if (entries_.size() > kIndexThreshold) {
    for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
  }
}

void Namespace::set(std::string name, Value value) {
  if (value.has_ref()) {
    throw_runtime("a namespace attribute cannot hold a namespace, macro or function");
  }
  const int depth = value.depth() + 1;
  check_depth(depth);
  depth_ = std::max(depth_, depth);
  attrs_.set(std::move(name), std::move(value));
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return false;
    case Value::Kind::kBool:
      return v.as_bool();
    case Value::Kind::kInt:
      return v.as_int() != 0;
    case Value::Kind::kFloat:
      return v.as_float() != 0.0;
    case Value::Kind::kString:
      return !v.as_string().empty();
    case Value::Kind::kList:
      return v.is_generator() || !v.items().empty();
    case Value::Kind::kMap:
      return !v.as_map().empty();
    default:
      return true;
  }
}

bool equals(const Value& a, const Value& b, Budget& budget) {
  budget.step();
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
      budget.step(a.as_string().size() / 64);
      return a.as_string() == b.as_string();
    case Value::Kind::kList: {
      if (a.is_generator() || b.is_generator()) return a.same_as(b);
      if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i) {
        if (!equals(a.items()[i], b.items()[i], budget)) return false;
      }
      return true;
    }
    case Value::Kind::kMap: {
      if (a.as_map().size() != b.as_map().size()) return false;
      for (const auto& [key, value] : a.as_map().entries()) {
        const Value* other = b.as_map().find(key);
        if (other == nullptr || !equals(value, *other, budget)) return false;
      }
      return true;
    }
    default:
      return a.same_as(b);
  }
}

std::partial_ordering compare(const Value& a, const Value& b, Budget& budget) {
  budget.step();
  require_defined(a);
  require_defined(b);
  if (a.is_number() && b.is_number()) return compare_numbers(a, b);
  if (a.is_string() && b.is_string()) {
    budget.step(std::min(a.as_string().size(), b.as_string().size()) / 64);
    // Byte order of UTF-8 is code point order, which is how Python orders str.
    return a.as_string().compare(b.as_string()) <=> 0;
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple() && !a.is_generator() &&
      !b.is_generator()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i], budget)) return compare(x[i], y[i], budget);
    }
    return x.size() <=> y.size();
  }
  fail_order(a, b);
}

bool contains(const Value& container, const Value& item, Budget& budget) {
  switch (container.kind()) {
    case Value::Kind::kUndefined:
      return false;  // Jinja's Undefined iterates as empty
    case Value::Kind::kString: {
      if (!item.is_string()) {
        throw_runtime(std::string("'in <string>' requires string as left operand, not ") +
                      item.type_name());
      }
      const std::string& s = container.as_string();
      budget.step(1 + s.size() / 64);
      const std::string& needle = item.as_string();
      if (needle.empty()) return true;
      // memmem is linear-time in glibc, unlike a naive search.
      return memmem(s.data(), s.size(), needle.data(), needle.size()) != nullptr;
    }
    case Value::Kind::kList:
      for (const Value& x : container.items()) {
        if (equals(x, item, budget)) return true;
      }
      return false;
    case Value::Kind::kMap:
      budget.step();
      if ((item.is_list() && !item.is_tuple()) || item.is_map() || item.is_namespace()) {
        throw_runtime(std::string("unhashable type: '") + item.type_name() + "'");
      }
      return item.is_string() && container.as_map().find(item.as_string()) != nullptr;
    default:
      throw_runtime(std::string("argument of type '") + container.type_name() +
                    "' is not iterable");
  }
}

Value undefined_attribute(const Value& object, std::string_view name) {
  const std::string type = object.is_none() ? "None" : std::string(object.type_name()) + " object";
  return Value::undefined(repr_string(type) + " has no attribute " + repr_string(name));
}

Value undefined_element(const Value& object, const Value& key) {
  if (key.is_string()) return undefined_attribute(object, key.as_string());
  const std::string type = object.is_none() ? "None" : std::string(object.type_name()) + " object";
  std::string key_text;
  if (key.is_integral()) {
    key_text = key.is_bool() ? (key.as_bool() ? "True" : "False") : std::to_string(key.as_int());
  } else if (key.is_float()) {
    key_text = format_float(key.as_float());
  } else {
    key_text = key.type_name();
  }
  return Value::undefined(type + " has no element " + key_text);
}

void require_defined(const Value& v) {
  if (v.is_undefined()) {
    throw_runtime(v.undefined_hint().empty() ? "value is undefined" : v.undefined_hint());
  }
}

}  // namespace llm::jinja
