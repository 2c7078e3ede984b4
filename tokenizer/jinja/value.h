// The dynamic value a template computes with: Python's None/bool/int/float/str/list/tuple/
// dict as Jinja sees them, plus Jinja's Undefined, namespace() objects and callables.
// Lists and mappings are immutable once built (the sandbox forbids mutating them), so values
// share them; only a Namespace is mutable, and it may not hold namespaces or callables, which
// rules out reference cycles.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace llm::jinja {

class Budget;
class Interpreter;
class Value;
struct ListData;
class MapData;
class Namespace;
struct Callable;

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,  // also tuples
    kMap,
    kNamespace,
    kCallable,
  };

  Value() = default;  // undefined
  // `hint` is what Jinja says when an undefined value is used: "'x' is undefined".
  static Value undefined(std::string hint);
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  // These two throw a TemplateError when the result would nest deeper than kMaxValueDepth.
  static Value list(std::vector<Value> items, bool tuple = false);
  // What Jinja's lazy filters (map, select, unique, items, ...) return: a Python generator.
  // It iterates like a list but is always truthy, has no length or indexing, and prints as
  // "<generator object>".
  static Value generator(std::vector<Value> items);
  static Value map(MapData map);
  static Value ns(std::shared_ptr<Namespace> ns);
  static Value callable(std::shared_ptr<const Callable> fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // Python numbers: bool is an int subclass.
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  bool is_integral() const { return is_bool() || is_int(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const;
  bool is_generator() const;
  bool is_map() const { return kind_ == Kind::kMap; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return std::get<bool>(data_); }
  // For bool and int.
  int64_t as_int() const;
  // For bool, int and float.
  double as_float() const;
  const std::string& as_string() const { return *std::get<StringPtr>(data_); }
  const std::vector<Value>& items() const;
  const MapData& as_map() const { return *std::get<MapPtr>(data_); }
  Namespace& as_namespace() const { return *std::get<NamespacePtr>(data_); }
  const Callable& as_callable() const { return *std::get<CallablePtr>(data_); }
  const std::string& undefined_hint() const;

  // Nesting depth (0 for scalars) and whether a namespace or callable is inside.
  int depth() const;
  bool has_ref() const;
  // Python's type name: "str", "dict", "NoneType", ...
  const char* type_name() const;
  // Same object (Python `is`) for shared values; equal contents for scalars.
  bool same_as(const Value& other) const;

 private:
  static Value make_list(std::vector<Value> items, bool tuple, bool generator);

  using StringPtr = std::shared_ptr<const std::string>;
  using ListPtr = std::shared_ptr<const ListData>;
  using MapPtr = std::shared_ptr<const MapData>;
  using NamespacePtr = std::shared_ptr<Namespace>;
  using CallablePtr = std::shared_ptr<const Callable>;

  Kind kind_ = Kind::kUndefined;
  std::variant<std::monostate, bool, int64_t, double, StringPtr, ListPtr, MapPtr, NamespacePtr,
               CallablePtr>
      data_;
};

struct ListData {
  std::vector<Value> items;
  bool tuple = false;
  bool generator = false;
  int depth = 1;
  bool has_ref = false;
};

// A dict with string keys, in insertion order; assigning an existing key keeps its place.
class MapData {
 public:
  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  // Set when the map becomes a Value.
  int depth() const { return depth_; }
  bool has_ref() const { return has_ref_; }

 private:
  friend class Value;
  size_t index_of(std::string_view key) const;  // size() when absent

  std::vector<std::pair<std::string, Value>> entries_;
  int depth_ = 1;
  bool has_ref_ = false;
  // Looks keys up by string_view without copying them.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Built once the map grows past a handful of keys, so lookups stay O(1) on large inputs.
  std::unordered_map<std::string, size_t, KeyHash, std::equal_to<>> index_;
};

// Jinja's namespace(): the one mutable object, shared by reference.
class Namespace {
 public:
  const Value* find(std::string_view name) const { return attrs_.find(name); }
  // Throws a TemplateError for a value holding a namespace or callable, or nested too deep.
  void set(std::string name, Value value);
  const MapData& attrs() const { return attrs_; }
  int depth() const { return depth_; }

 private:
  MapData attrs_;
  int depth_ = 1;  // only grows: a bound, not the exact depth
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

struct Callable {
  using Fn = std::function<Value(Interpreter&, CallArgs&)>;
  std::string name;  // for messages and repr
  Fn fn;
  int depth = 0;  // nesting of a value the function holds (a bound method's receiver)
};

// Python truthiness (Undefined is false).
bool truthy(const Value& v);
// Python `==`, deep on lists and mappings (Undefined equals only Undefined).
bool equals(const Value& a, const Value& b, Budget& budget);
// Python ordering for `<` and friends and for sorting; throws a TemplateError for types
// Python cannot order. Unordered for NaN.
std::partial_ordering compare(const Value& a, const Value& b, Budget& budget);
// Python `item in container`.
bool contains(const Value& container, const Value& item, Budget& budget);
// Jinja's description of an undefined value's origin: "'dict object' has no attribute 'x'".
Value undefined_attribute(const Value& object, std::string_view name);
Value undefined_element(const Value& object, const Value& key);
// Throws Jinja's UndefinedError for `v` if it is undefined.
void require_defined(const Value& v);

}  // namespace llm::jinja
