#include "tokenizer/jinja/percent_format.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "tokenizer/jinja/budget.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/format.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/unicode.h"

namespace llm::jinja {
namespace {

struct Spec {
  std::string flags;
  int64_t width = -1;
  int64_t precision = -1;
  char conversion = 0;
};

bool has_flag(const Spec& spec, char flag) {
  return spec.flags.find(flag) != std::string::npos;
}

std::string chars(double value, std::chars_format format, int precision) {
  char buf[400];  // the precision is capped below; a double has at most 309 integer digits
  const auto r = std::to_chars(buf, buf + sizeof buf, value, format, precision);
  return std::string(buf, r.ptr);
}

// %e %f %g as C's printf writes them (and so Python), built on to_chars so that the process
// locale cannot change the decimal point.
std::string format_double(const Spec& spec, double value) {
  const char c = static_cast<char>(spec.conversion | 0x20);
  const bool alternate = has_flag(spec, '#');
  const int precision =
      static_cast<int>(std::min<int64_t>(spec.precision < 0 ? 6 : spec.precision, 300));
  const double magnitude = std::abs(value);
  std::string body;
  if (!std::isfinite(value)) {
    body = std::isnan(value) ? "nan" : "inf";
  } else if (c == 'f') {
    body = chars(magnitude, std::chars_format::fixed, precision);
  } else if (c == 'e') {
    body = chars(magnitude, std::chars_format::scientific, precision);
  } else {
    // %g: P significant digits, in exponent form when the exponent is < -4 or >= P; without
    // '#', trailing zeros (and a trailing point) go.
    const int p = std::max(precision, 1);
    const std::string sci = chars(magnitude, std::chars_format::scientific, p - 1);
    const int exponent = std::atoi(sci.c_str() + sci.find('e') + 1);
    body = (exponent < -4 || exponent >= p)
               ? sci
               : chars(magnitude, std::chars_format::fixed, p - 1 - exponent);
    if (!alternate && body.find('.') != std::string::npos) {
      const size_t e = std::min(body.find('e'), body.size());
      size_t end = e;
      while (body[end - 1] == '0') --end;
      if (body[end - 1] == '.') --end;
      body.erase(end, e - end);
    }
  }
  if (alternate && std::isfinite(value) && body.find('.') == std::string::npos) {
    body.insert(std::min(body.find('e'), body.size()), ".");
  }
  if (spec.conversion != c) {
    for (char& ch : body) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  const std::string sign = std::signbit(value) && !std::isnan(value) ? "-"
                           : has_flag(spec, '+')                     ? "+"
                           : has_flag(spec, ' ')                     ? " "
                                                                     : "";
  const size_t length = sign.size() + body.size();
  if (spec.width <= static_cast<int64_t>(length)) return sign + body;
  const size_t fill = static_cast<size_t>(spec.width) - length;
  if (has_flag(spec, '-')) return sign + body + std::string(fill, ' ');
  if (has_flag(spec, '0')) return sign + std::string(fill, '0') + body;  // inf too, as Python
  return std::string(fill, ' ') + sign + body;
}

// Integers by hand: Python applies sign flags to x and o too, writes "0x"/"0o" for '#', and
// never prints nothing for a zero.
std::string format_integer(const Spec& spec, const Value& arg) {
  const char c = spec.conversion;
  const int base = (c == 'x' || c == 'X') ? 16 : c == 'o' ? 8 : 10;
  bool negative = false;
  std::string digits;
  if (arg.is_float()) {  // only for d / i / u: int(x) of a float, exactly
    const double d = std::trunc(arg.as_float());
    if (std::isnan(d)) throw_runtime("cannot convert float NaN to integer");
    if (std::isinf(d)) throw_runtime("cannot convert float infinity to integer");
    negative = d < 0;
    digits = chars(std::abs(d), std::chars_format::fixed, 0);
  } else {
    const int64_t v = arg.as_int();
    negative = v < 0;
    uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    const char* symbols = c == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
      digits.insert(digits.begin(), symbols[magnitude % static_cast<uint64_t>(base)]);
      magnitude /= static_cast<uint64_t>(base);
    } while (magnitude != 0);
  }
  if (spec.precision > static_cast<int64_t>(digits.size())) {
    digits.insert(0, static_cast<size_t>(spec.precision) - digits.size(), '0');
  }
  std::string prefix = negative ? "-" : has_flag(spec, '+') ? "+" : has_flag(spec, ' ') ? " " : "";
  if (has_flag(spec, '#') && base != 10) prefix += c == 'X' ? "0X" : c == 'x' ? "0x" : "0o";
  const size_t length = prefix.size() + digits.size();
  if (spec.width <= static_cast<int64_t>(length)) return prefix + digits;
  const size_t fill = static_cast<size_t>(spec.width) - length;
  if (has_flag(spec, '-')) return prefix + digits + std::string(fill, ' ');
  if (has_flag(spec, '0')) return prefix + std::string(fill, '0') + digits;
  return std::string(fill, ' ') + prefix + digits;
}

std::string pad(std::string text, const Spec& spec) {
  const size_t length = unicode::length(text);
  if (spec.width < 0 || static_cast<size_t>(spec.width) <= length) return text;
  const std::string fill(static_cast<size_t>(spec.width) - length, ' ');
  return has_flag(spec, '-') ? text + fill : fill + text;
}

std::string convert(const Spec& spec, const Value& arg, Budget& budget) {
  const char c = spec.conversion;
  if (std::string_view("sracdiuxXoeEfFgG").find(c) == std::string_view::npos) {
    throw_runtime(std::string("unsupported format character '") + c + "'");
  }
  if (c == 's' || c == 'r' || c == 'a') {
    std::string text;
    if (c == 's') {
      append_str(text, arg, budget);
    } else {
      append_repr(text, arg, budget);
    }
    if (spec.precision >= 0) {
      const std::vector<size_t> off = unicode::offsets(text);
      if (static_cast<size_t>(spec.precision) + 1 < off.size()) {
        text.resize(off[static_cast<size_t>(spec.precision)]);
      }
    }
    return pad(std::move(text), spec);
  }
  if (c == 'c') {
    std::string text;
    if (arg.is_integral() && arg.as_int() >= 0 && arg.as_int() <= 0x10FFFF) {
      unicode::append(text, static_cast<char32_t>(arg.as_int()));
    } else if (arg.is_string() && unicode::length(arg.as_string()) == 1) {
      text = arg.as_string();
    } else {
      throw_runtime("%c requires an int or a unicode character");
    }
    return pad(std::move(text), spec);
  }
  require_defined(arg);
  const bool integer_only = c == 'x' || c == 'X' || c == 'o';
  if (!arg.is_number() || (integer_only && arg.is_float())) {
    throw_runtime(std::string("%") + c +
                  " format: " + (integer_only ? "an integer" : "a real number") +
                  " is required, not " + arg.type_name());
  }
  switch (c) {
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o':
      return format_integer(spec, arg);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
      return format_double(spec, arg.as_float());
    default:
      break;
  }
  throw_runtime(std::string("unsupported format character '") + c + "'");
}

}  // namespace

std::string percent_format(std::string_view format, const Value& args, Budget& budget) {
  std::vector<Value> positional;
  if (args.is_tuple()) {
    positional = args.items();
  } else {
    positional.push_back(args);
  }
  // Python looks keys up in any non-tuple, non-string argument that supports indexing.
  const bool mapping = args.is_map() || args.is_undefined() ||
                       (args.is_list() && !args.is_tuple() && !args.is_generator());
  size_t next = 0;
  std::string out;
  const auto next_int = [&]() -> int64_t {
    if (next >= positional.size()) throw_runtime("not enough arguments for format string");
    const Value& v = positional[next++];
    if (!v.is_integral()) throw_runtime("* wants int");
    return v.as_int();
  };
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) throw_runtime("incomplete format");
    Value arg;
    bool have_arg = false;
    if (format[i] == '(') {
      if (!mapping) throw_runtime("format requires a mapping");
      int depth = 1;
      const size_t start = ++i;
      while (i < format.size() && (depth > 1 || format[i] != ')')) {
        depth += format[i] == '(' ? 1 : format[i] == ')' ? -1 : 0;
        ++i;
      }
      if (i >= format.size()) throw_runtime("incomplete format key");
      const Value key = Value::string(std::string(format.substr(start, i - start)));
      arg = get_item(args, key, budget);
      if (arg.is_undefined()) throw_runtime("KeyError: " + repr_string(key.as_string()));
      have_arg = true;
      ++i;
    }
    Spec spec;
    while (i < format.size() &&
           std::string_view("-+ #0").find(format[i]) != std::string_view::npos) {
      spec.flags.push_back(format[i++]);
    }
    const auto read_number = [&](bool is_width) -> int64_t {
      if (i < format.size() && format[i] == '*') {
        ++i;
        const int64_t n = next_int();
        if (n >= 0) return std::min<int64_t>(n, 1 << 30);
        if (is_width) spec.flags.push_back('-');  // Python: a negative width left-justifies
        return is_width ? std::min<int64_t>(-n, 1 << 30) : 0;
      }
      int64_t n = 0;
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
        n = std::min<int64_t>(n * 10 + (format[i++] - '0'), 1 << 30);
      }
      return n;
    };
    if (i < format.size() && (format[i] == '*' || (format[i] >= '0' && format[i] <= '9'))) {
      spec.width = read_number(true);
    }
    bool has_precision = false;
    if (i < format.size() && format[i] == '.') {
      ++i;
      has_precision = true;
      spec.precision = read_number(false);
    }
    // A huge width or precision would make one conversion allocate without bound.
    budget.text(static_cast<size_t>(std::max<int64_t>({spec.width, spec.precision, 0})));
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) throw_runtime("incomplete format");
    spec.conversion = format[i];
    const bool bare = !have_arg && spec.flags.empty() && spec.width < 0 && !has_precision;
    if (spec.conversion == '%' && bare) {
      out.push_back('%');
      continue;
    }
    if (!have_arg) {
      if (next >= positional.size()) throw_runtime("not enough arguments for format string");
      arg = positional[next++];
    }
    out += convert(spec, arg, budget);
    budget.text(out.size());
  }
  if (!mapping && next < positional.size()) {
    throw_runtime("not all arguments converted during string formatting");
  }
  budget.text(out.size());
  return out;
}

}  // namespace llm::jinja
