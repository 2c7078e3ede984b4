#include "tokenizer/jinja/format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "tokenizer/jinja/budget.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/unicode.h"

namespace llm::jinja {
namespace {

void check_size(const std::string& out, Budget& budget) {
  if (out.size() > budget.limits().max_output_bytes) budget.text(out.size());
}

void append_hex(std::string& out, const char* prefix, unsigned value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%0*x", prefix, digits, value);
  out += buf;
}

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20 || (ensure_ascii && c == 0x7F)) {
            append_hex(out, "\\u", c, 4);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    const size_t len = unicode::decode(s, i, &cp);
    if (!ensure_ascii) {
      out.append(s.substr(i, len));
    } else if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      append_hex(out, "\\u", 0xD800 + (v >> 10), 4);
      append_hex(out, "\\u", 0xDC00 + (v & 0x3FF), 4);
    } else {
      append_hex(out, "\\u", cp, 4);
    }
    i += len;
  }
  out.push_back('"');
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return format_float(d);
}

void append_json(std::string& out, const Value& v, const JsonOptions& options, int level,
                 Budget& budget) {
  budget.step();
  const auto newline = [&](int n) {
    if (!options.indent) return;
    out.push_back('\n');
    for (int i = 0; i < n; ++i) out += options.indent_text;
  };
  switch (v.kind()) {
    case Value::Kind::kNone:
      out += "null";
      break;
    case Value::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      break;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      break;
    case Value::Kind::kFloat:
      out += json_float(v.as_float());
      break;
    case Value::Kind::kString:
      append_json_string(out, v.as_string(), options.ensure_ascii);
      break;
    case Value::Kind::kList: {
      if (v.is_generator()) throw_runtime("Object of type generator is not JSON serializable");
      if (v.items().empty()) {
        out += "[]";
        break;
      }
      out.push_back('[');
      bool first = true;
      for (const Value& item : v.items()) {
        if (!first) out += options.item_separator;
        first = false;
        newline(level + 1);
        append_json(out, item, options, level + 1, budget);
      }
      newline(level);
      out.push_back(']');
      break;
    }
    case Value::Kind::kMap: {
      if (v.as_map().empty()) {
        out += "{}";
        break;
      }
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : v.as_map().entries()) entries.push_back(&e);
      if (options.sort_keys) {
        budget.step(entries.size());
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto* a, const auto* b) { return a->first < b->first; });
      }
      out.push_back('{');
      bool first = true;
      for (const auto* e : entries) {
        if (!first) out += options.item_separator;
        first = false;
        newline(level + 1);
        append_json_string(out, e->first, options.ensure_ascii);
        out += options.key_separator;
        append_json(out, e->second, options, level + 1, budget);
      }
      newline(level);
      out.push_back('}');
      break;
    }
    default: {
      const char* type = v.is_namespace() ? "Namespace" : v.type_name();
      throw_runtime(std::string("Object of type ") + type + " is not JSON serializable");
    }
  }
  check_size(out, budget);
}

}  // namespace

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  // Shortest round-trip digits in d.ddde±XX form, then laid out as Python's repr does.
  const auto result = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view text(buf, static_cast<size_t>(result.ptr - buf));
  std::string out;
  if (text.front() == '-') {
    out.push_back('-');
    text.remove_prefix(1);
  }
  const size_t e_pos = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  const int exponent = std::atoi(std::string(text.substr(e_pos + 1)).c_str());
  const int decpt = exponent + 1;  // value = 0.DIGITS * 10**decpt
  const int n = static_cast<int>(digits.size());
  // Appends only: GCC 12 -O3 warns (falsely) on temporaries built with operator+ here.
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out.append("0.");
      out.append(static_cast<size_t>(-decpt), '0');
      out.append(digits);
    } else if (decpt < n) {
      out.append(digits, 0, static_cast<size_t>(decpt));
      out.push_back('.');
      out.append(digits, static_cast<size_t>(decpt), std::string::npos);
    } else {
      out.append(digits);
      out.append(static_cast<size_t>(decpt - n), '0');
      out.append(".0");
    }
    return out;
  }
  out.push_back(digits[0]);
  if (n > 1) {
    out.push_back('.');
    out.append(digits, 1, std::string::npos);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  out += exp_buf;
  return out;
}

bool parse_float_literal(std::string_view text, double* out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (r.ptr != text.data() + text.size()) return false;
  if (r.ec == std::errc::result_out_of_range) {
    const size_t e = text.find_first_of("eE");
    const bool tiny = e != std::string_view::npos && e + 1 < text.size() && text[e + 1] == '-';
    const bool negative = !text.empty() && text[0] == '-';
    *out = tiny ? (negative ? -0.0 : 0.0) : (negative ? -HUGE_VAL : HUGE_VAL);
    return true;
  }
  return r.ec == std::errc();
}

std::string repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t len = unicode::decode(s, i, &cp);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x80 && cp >= 0x20 && cp != 0x7F) {
      out.push_back(static_cast<char>(cp));
    } else if (unicode::is_printable(cp)) {
      out.append(s.substr(i, len));
    } else if (cp < 0x100) {
      append_hex(out, "\\x", cp, 2);
    } else if (cp < 0x10000) {
      append_hex(out, "\\u", cp, 4);
    } else {
      append_hex(out, "\\U", cp, 8);
    }
    i += len;
  }
  out.push_back(quote);
  return out;
}

void append_str(std::string& out, const Value& v, Budget& budget) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return;
    case Value::Kind::kString:
      out += v.as_string();
      check_size(out, budget);
      return;
    default:
      append_repr(out, v, budget);
  }
}

void append_repr(std::string& out, const Value& v, Budget& budget) {
  budget.step();
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      out += "Undefined";
      break;
    case Value::Kind::kNone:
      out += "None";
      break;
    case Value::Kind::kBool:
      out += v.as_bool() ? "True" : "False";
      break;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      break;
    case Value::Kind::kFloat:
      out += format_float(v.as_float());
      break;
    case Value::Kind::kString:
      out += repr_string(v.as_string());
      break;
    case Value::Kind::kList: {
      if (v.is_generator()) {
        out += "<generator object>";
        break;
      }
      out.push_back(v.is_tuple() ? '(' : '[');
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i > 0) out += ", ";
        append_repr(out, v.items()[i], budget);
      }
      if (v.is_tuple() && v.items().size() == 1) out.push_back(',');
      out.push_back(v.is_tuple() ? ')' : ']');
      break;
    }
    case Value::Kind::kMap: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : v.as_map().entries()) {
        if (!first) out += ", ";
        first = false;
        out += repr_string(key);
        out += ": ";
        append_repr(out, item, budget);
      }
      out.push_back('}');
      break;
    }
    case Value::Kind::kNamespace:
      out += "<Namespace ";
      append_repr(out, Value::map(v.as_namespace().attrs()), budget);
      out += ">";
      break;
    case Value::Kind::kCallable:
      out += "<function " + v.as_callable().name + ">";
      break;
  }
  check_size(out, budget);
}

std::string to_str(const Value& v, Budget& budget) {
  if (v.is_string()) return v.as_string();
  std::string out;
  append_str(out, v, budget);
  return out;
}

std::string to_json(const Value& v, const JsonOptions& options, Budget& budget) {
  std::string out;
  append_json(out, v, options, 0, budget);
  budget.text(out.size());
  return out;
}

}  // namespace llm::jinja
