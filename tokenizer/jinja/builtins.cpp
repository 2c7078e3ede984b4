#include "tokenizer/jinja/builtins.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/budget.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/format.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/unicode.h"

namespace llm::jinja {
namespace {

constexpr std::string_view kStringMethods[] = {
    "strip", "lstrip",  "rstrip",  "split",      "rsplit",  "splitlines", "startswith", "endswith",
    "upper", "lower",   "title",   "capitalize", "replace", "join",       "find",       "rfind",
    "count", "isdigit", "isalpha", "isalnum",    "isspace", "islower",    "isupper"};
constexpr std::string_view kDictMethods[] = {"items", "keys",    "values", "get",        "copy",
                                             "pop",   "popitem", "update", "setdefault", "clear"};
constexpr std::string_view kListMethods[] = {"count",  "index",  "copy",   "append",
                                             "extend", "insert", "remove", "pop",
                                             "clear",  "sort",   "reverse"};

template <size_t N>
bool listed(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

// Byte offset of `needle` in `hay` at or after `from`, or npos; linear time.
size_t find_bytes(std::string_view hay, std::string_view needle, size_t from) {
  if (from > hay.size()) return std::string_view::npos;
  if (needle.empty()) return from;
  const void* p = memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
  return p == nullptr ? std::string_view::npos
                      : static_cast<size_t>(static_cast<const char*>(p) - hay.data());
}

int64_t code_point_index(std::string_view s, size_t byte_offset) {
  return static_cast<int64_t>(unicode::length(s.substr(0, byte_offset)));
}

Value string_list(std::vector<std::string> parts, Budget& budget) {
  budget.items(parts.size());
  std::vector<Value> items;
  items.reserve(parts.size());
  for (std::string& p : parts) items.push_back(Value::string(std::move(p)));
  return Value::list(std::move(items));
}

bool prefix_matches(const Value& prefix, std::string_view s, bool at_end, std::string_view fn) {
  const auto check = [&](const Value& p) {
    if (!p.is_string()) {
      throw_runtime(std::string(fn) + " first arg must be str or a tuple of str, not " +
                    p.type_name());
    }
    const std::string& t = p.as_string();
    if (t.size() > s.size()) return false;
    return at_end ? s.substr(s.size() - t.size()) == t : s.substr(0, t.size()) == t;
  };
  if (prefix.is_tuple()) {
    return std::any_of(prefix.items().begin(), prefix.items().end(), check);
  }
  return check(prefix);
}

template <typename Pred>
bool all_code_points(std::string_view s, Pred pred) {
  if (s.empty()) return false;
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    i += unicode::decode(s, i, &cp);
    if (!pred(cp)) return false;
  }
  return true;
}

bool is_letter(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0x80 && unicode::is_cased(c));
}

Value string_method(Interpreter& in, const std::string& s, std::string_view name, CallArgs& call) {
  Budget& budget = in.budget();
  budget.step(1 + s.size() / 64);
  const std::string fn = "str." + std::string(name);
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    Args a(fn, call, {"chars"});
    const bool left = name != "rstrip";
    const bool right = name != "lstrip";
    if (a.get(0).is_undefined() || a.get(0).is_none()) {
      return Value::string(std::string(unicode::strip(s, left, right)));
    }
    return Value::string(std::string(unicode::strip_chars(s, a.string(0, ""), left, right)));
  }
  if (name == "split" || name == "rsplit") {
    Args a(fn, call, {"sep", "maxsplit"});
    return Value::list(split_string(s, a.get(0), a.integer(1, -1), name == "rsplit", budget));
  }
  if (name == "splitlines") {
    Args a(fn, call, {"keepends"});
    const bool keep = a.flag(0, false);
    std::vector<std::string> lines;
    char32_t cp;
    size_t start = 0;
    for (size_t i = 0; i < s.size();) {
      const size_t len = unicode::decode(s, i, &cp);
      const bool brk = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C ||
                       cp == 0x1D || cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
      if (!brk) {
        i += len;
        continue;
      }
      size_t end = i + len;
      if (cp == '\r' && end < s.size() && s[end] == '\n') ++end;
      lines.push_back(s.substr(start, (keep ? end : i) - start));
      start = i = end;
    }
    if (start < s.size()) lines.push_back(s.substr(start));
    return string_list(std::move(lines), budget);
  }
  if (name == "startswith" || name == "endswith") {
    Args a(fn, call, {"prefix"}, 1);
    return Value::boolean(prefix_matches(a.get(0), s, name == "endswith", name));
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    Args a(fn, call, {});
    if (name == "upper") return Value::string(unicode::upper(s));
    if (name == "lower") return Value::string(unicode::lower(s));
    if (name == "title") return Value::string(unicode::py_title(s));
    return Value::string(unicode::capitalize(s));
  }
  if (name == "replace") {
    Args a(fn, call, {"old", "new", "count"}, 2);
    return Value::string(
        replace_string(s, a.string(0, ""), a.string(1, ""), a.integer(2, -1), budget));
  }
  if (name == "join") {
    Args a(fn, call, {"iterable"}, 1);
    std::string out;
    const std::vector<Value> items = iterate(a.get(0), budget);
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) {
        throw_runtime("sequence item " + std::to_string(i) + ": expected str instance, " +
                      items[i].type_name() + " found");
      }
      if (i > 0) out += s;
      out += items[i].as_string();
      budget.text(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "count") {
    Args a(fn, call, {"sub"}, 1);
    const std::string sub = a.string(0, "");
    if (name == "count") {
      if (sub.empty()) return Value::integer(static_cast<int64_t>(unicode::length(s)) + 1);
      int64_t n = 0;
      for (size_t p = find_bytes(s, sub, 0); p != std::string_view::npos;
           p = find_bytes(s, sub, p + sub.size())) {
        ++n;
      }
      return Value::integer(n);
    }
    budget.step(s.size() / 64 * (1 + sub.size() / 64));
    const size_t p = name == "find" ? find_bytes(s, sub, 0) : s.rfind(sub);
    return Value::integer(p == std::string::npos ? -1 : code_point_index(s, p));
  }
  Args a(fn, call, {});
  if (name == "isdigit") {
    return Value::boolean(all_code_points(s, [](char32_t c) { return c >= '0' && c <= '9'; }));
  }
  if (name == "isalpha") return Value::boolean(all_code_points(s, is_letter));
  if (name == "isalnum") {
    return Value::boolean(
        all_code_points(s, [](char32_t c) { return is_letter(c) || (c >= '0' && c <= '9'); }));
  }
  if (name == "isspace") return Value::boolean(all_code_points(s, unicode::is_space));
  // islower / isupper: some cased character, and none of the other case.
  const bool want_lower = name == "islower";
  bool any_cased = false;
  bool ok = true;
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    i += unicode::decode(s, i, &cp);
    if (!unicode::is_cased(cp)) continue;
    any_cased = true;
    const bool is_lower = unicode::to_upper(cp) != cp;
    if (is_lower != want_lower) ok = false;
  }
  return Value::boolean(any_cased && ok);
}

[[noreturn]] void immutable(const Value& object, std::string_view name) {
  throw_runtime(std::string(object.type_name()) + "." + std::string(name) +
                "() is not allowed: template values are immutable");
}

Value dict_method(Interpreter& in, const Value& object, std::string_view name, CallArgs& call) {
  const MapData& map = object.as_map();
  const std::string fn = "dict." + std::string(name);
  if (name == "get") {
    Args a(fn, call, {"key", "default"}, 1);
    const Value* v = a.get(0).is_string() ? map.find(a.get(0).as_string()) : nullptr;
    if (v != nullptr) return *v;
    return a.has(1) ? a.get(1) : Value::none();
  }
  if (name != "items" && name != "keys" && name != "values" && name != "copy") {
    immutable(object, name);
  }
  Args a(fn, call, {});
  if (name == "copy") return object;
  in.budget().items(map.size());
  std::vector<Value> out;
  out.reserve(map.size());
  for (const auto& [key, value] : map.entries()) {
    if (name == "items") {
      out.push_back(Value::list({Value::string(key), value}, true));
    } else {
      out.push_back(name == "keys" ? Value::string(key) : value);
    }
  }
  return Value::list(std::move(out));
}

Value list_method(Interpreter& in, const Value& object, std::string_view name, CallArgs& call) {
  const std::string fn = "list." + std::string(name);
  if (name == "count" || name == "index") {
    Args a(fn, call, {"value"}, 1);
    int64_t n = 0;
    for (size_t i = 0; i < object.items().size(); ++i) {
      if (!equals(object.items()[i], a.get(0), in.budget())) continue;
      if (name == "index") return Value::integer(static_cast<int64_t>(i));
      ++n;
    }
    if (name == "index") throw_runtime("list.index(x): x not in list");
    return Value::integer(n);
  }
  if (name == "copy") return object;
  immutable(object, name);
}

Value range(Interpreter& in, CallArgs& call) {
  Args a("range", call, {"start", "stop", "step"}, 1);
  int64_t start = 0;
  int64_t stop = a.integer(0, 0);
  if (a.has(1)) {
    start = stop;
    stop = a.integer(1, 0);
  }
  const int64_t step = a.integer(2, 1);
  if (step == 0) throw_runtime("range() arg 3 must not be zero");
  // Count with unsigned arithmetic: stop - start can exceed int64.
  uint64_t count = 0;
  if (step > 0 && stop > start) {
    count = (static_cast<uint64_t>(stop) - static_cast<uint64_t>(start) - 1) /
                static_cast<uint64_t>(step) +
            1;
  } else if (step < 0 && stop < start) {
    count = (static_cast<uint64_t>(start) - static_cast<uint64_t>(stop) - 1) /
                (0 - static_cast<uint64_t>(step)) +
            1;
  }
  in.budget().items(count > SIZE_MAX / 2 ? SIZE_MAX / 2 : static_cast<size_t>(count));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(count));
  int64_t v = start;
  for (uint64_t i = 0; i < count; ++i, v += (i < count ? step : 0)) {
    items.push_back(Value::integer(v));
  }
  return Value::list(std::move(items));
}

void merge_mappings(const char* fn, CallArgs& call,
                    const std::function<void(const std::string&, const Value&)>& set) {
  for (const Value& arg : call.positional) {
    if (!arg.is_map()) throw_runtime(std::string(fn) + "() positional argument must be a mapping");
    for (const auto& [key, value] : arg.as_map().entries()) set(key, value);
  }
  for (const auto& [key, value] : call.keyword) set(key, value);
}

Value make_namespace(Interpreter&, CallArgs& call) {
  auto ns = std::make_shared<Namespace>();
  merge_mappings("namespace", call, [&](const std::string& k, const Value& v) { ns->set(k, v); });
  return Value::ns(std::move(ns));
}

Value make_dict(Interpreter& in, CallArgs& call) {
  MapData map;
  merge_mappings("dict", call, [&](const std::string& k, const Value& v) { map.set(k, v); });
  in.budget().items(map.size());
  return Value::map(std::move(map));
}

Value raise_exception(Interpreter& in, CallArgs& call) {
  Args a("raise_exception", call, {"message"});
  throw TemplateError(TemplateError::Kind::kRaised, to_str(a.get(0), in.budget()));
}

Value builtin(std::string name, Callable::Fn fn) {
  return Value::callable(
      std::make_shared<const Callable>(Callable{std::move(name), std::move(fn), 0}));
}

}  // namespace

Value method(const Value& object, std::string_view name) {
  const bool found = (object.is_string() && listed(kStringMethods, name)) ||
                     (object.is_map() && listed(kDictMethods, name)) ||
                     (object.is_list() && listed(kListMethods, name));
  if (!found) return Value();
  const std::string method_name(name);
  Callable::Fn fn = [object, method_name](Interpreter& in, CallArgs& call) {
    if (object.is_string()) return string_method(in, object.as_string(), method_name, call);
    if (object.is_map()) return dict_method(in, object, method_name, call);
    return list_method(in, object, method_name, call);
  };
  return Value::callable(std::make_shared<const Callable>(Callable{
      std::string(object.type_name()) + "." + method_name, std::move(fn), object.depth() + 1}));
}

void install_builtins(MapData& globals) {
  globals.set("range", builtin("range", range));
  globals.set("namespace", builtin("namespace", make_namespace));
  globals.set("dict", builtin("dict", make_dict));
  globals.set("raise_exception", builtin("raise_exception", raise_exception));
}

std::vector<Value> split_string(std::string_view s, const Value& sep, int64_t maxsplit,
                                bool from_right, Budget& budget) {
  std::vector<std::string> parts;
  if (sep.is_undefined() || sep.is_none()) {
    // Runs of whitespace separate; leading and trailing whitespace never make empty parts.
    const std::vector<size_t> off = unicode::offsets(s);
    const size_t n = off.size() - 1;
    const auto space = [&](size_t k) {
      char32_t cp;
      unicode::decode(s, off[k], &cp);
      return unicode::is_space(cp);
    };
    if (!from_right) {
      size_t i = 0;
      while (maxsplit-- != 0) {
        while (i < n && space(i)) ++i;
        if (i == n) break;
        const size_t j = i;
        while (i < n && !space(i)) ++i;
        parts.emplace_back(s.substr(off[j], off[i] - off[j]));
      }
      while (i < n && space(i)) ++i;
      if (i < n) parts.emplace_back(s.substr(off[i]));
    } else {
      size_t i = n;
      while (maxsplit-- != 0) {
        while (i > 0 && space(i - 1)) --i;
        if (i == 0) break;
        const size_t j = i;
        while (i > 0 && !space(i - 1)) --i;
        parts.emplace_back(s.substr(off[i], off[j] - off[i]));
      }
      while (i > 0 && space(i - 1)) --i;
      if (i > 0) parts.emplace_back(s.substr(0, off[i]));
      std::reverse(parts.begin(), parts.end());
    }
  } else {
    if (!sep.is_string()) {
      throw_runtime(std::string("must be str or None, not ") + sep.type_name());
    }
    const std::string& d = sep.as_string();
    if (d.empty()) throw_runtime("empty separator");
    if (!from_right) {
      size_t pos = 0;
      for (size_t p = find_bytes(s, d, 0); p != std::string_view::npos && maxsplit-- != 0;
           p = find_bytes(s, d, pos)) {
        parts.emplace_back(s.substr(pos, p - pos));
        pos = p + d.size();
      }
      parts.emplace_back(s.substr(pos));
    } else {
      budget.step(s.size() / 64 * (1 + d.size() / 64));
      size_t end = s.size();
      while (maxsplit-- != 0 && end >= d.size()) {
        const size_t p = s.substr(0, end).rfind(d);
        if (p == std::string_view::npos) break;
        parts.emplace_back(s.substr(p + d.size(), end - p - d.size()));
        end = p;
      }
      parts.emplace_back(s.substr(0, end));
      std::reverse(parts.begin(), parts.end());
    }
  }
  budget.items(parts.size());
  std::vector<Value> out;
  out.reserve(parts.size());
  for (std::string& p : parts) out.push_back(Value::string(std::move(p)));
  return out;
}

std::string replace_string(std::string_view s, std::string_view old_text, std::string_view new_text,
                           int64_t count, Budget& budget) {
  std::string out;
  const auto add = [&](std::string_view piece) {
    budget.text(out.size() + piece.size());
    out.append(piece);
  };
  if (old_text.empty()) {
    // Python inserts `new` before every character and at the end.
    const std::vector<size_t> off = unicode::offsets(s);
    const auto insert = [&] {
      if (count == 0) return;
      add(new_text);
      if (count > 0) --count;
    };
    for (size_t k = 0; k + 1 < off.size(); ++k) {
      insert();
      add(s.substr(off[k], off[k + 1] - off[k]));
    }
    insert();
    return out;
  }
  size_t pos = 0;
  for (size_t p = find_bytes(s, old_text, 0); p != std::string_view::npos && count-- != 0;
       p = find_bytes(s, old_text, pos)) {
    add(s.substr(pos, p - pos));
    add(new_text);
    pos = p + old_text.size();
  }
  add(s.substr(pos));
  return out;
}

}  // namespace llm::jinja
