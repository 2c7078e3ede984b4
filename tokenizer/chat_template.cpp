#include "tokenizer/chat_template.h"

#include <ctime>
#include <iomanip>
#include <locale>
#include <sstream>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/parser.h"

namespace llm {
namespace {

using jinja::MapData;
using jinja::Value;
using Json = nlohmann::ordered_json;

// strftime_now's format is template text; a bound keeps one call's output small.
constexpr size_t kMaxTimeFormat = 4096;

std::string local_strftime(const std::string& format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::put_time(&tm, format.c_str());
  return out.str();
}

// JSON as Python's json.loads would give it to the template. Descends at most
// kMaxValueDepth levels so that hostile nesting cannot exhaust the stack.
Value from_json(const Json& j, int depth = 0) {
  if (depth > jinja::kMaxValueDepth) {
    jinja::throw_runtime("input JSON nested too deeply (limit " +
                         std::to_string(jinja::kMaxValueDepth) + ")");
  }
  switch (j.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      return Value::none();
    case Json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case Json::value_t::number_integer:
      return Value::integer(j.get<int64_t>());
    case Json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      // Python has big integers; past int64 the nearest double is the best we can hold.
      return u <= static_cast<uint64_t>(INT64_MAX) ? Value::integer(static_cast<int64_t>(u))
                                                   : Value::number(static_cast<double>(u));
    }
    case Json::value_t::number_float:
      return Value::number(j.get<double>());
    case Json::value_t::string:
      return Value::string(j.get<std::string>());
    case Json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const Json& item : j) items.push_back(from_json(item, depth + 1));
      return Value::list(std::move(items));
    }
    case Json::value_t::object: {
      MapData map;
      for (const auto& [key, item] : j.items()) map.set(key, from_json(item, depth + 1));
      return Value::map(std::move(map));
    }
    case Json::value_t::binary:
      break;
  }
  jinja::throw_runtime("binary JSON values cannot be passed to a chat template");
}

std::string position(const std::string& source, size_t offset) {
  size_t line = 0;
  size_t column = 0;
  jinja::line_column(source, offset, &line, &column);
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

Value strftime_function(std::function<std::string(const std::string&)> fn) {
  if (!fn) fn = local_strftime;
  jinja::Callable::Fn call = [fn = std::move(fn)](jinja::Interpreter& in, jinja::CallArgs& args) {
    const jinja::Args a("strftime_now", args, {"format"}, 1);
    const std::string format = a.string(0, "");
    if (format.size() > kMaxTimeFormat) jinja::throw_runtime("strftime_now format too long");
    std::string out = fn(format);
    in.budget().text(out.size());
    return Value::string(std::move(out));
  };
  return Value::callable(
      std::make_shared<const jinja::Callable>(jinja::Callable{"strftime_now", std::move(call), 0}));
}

}  // namespace

ChatTemplate::ChatTemplate(std::shared_ptr<const jinja::Program> program)
    : program_(std::move(program)) {}

ChatTemplate ChatTemplate::compile(std::string_view source) {
  std::string normalized = jinja::normalize_source(source);
  try {
    return ChatTemplate(std::make_shared<const jinja::Program>(jinja::parse_template(normalized)));
  } catch (const jinja::TemplateError& e) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "chat template syntax error at " + position(normalized, e.offset()) + ": " + e.what());
  }
}

std::string ChatTemplate::render(const Inputs& inputs) const {
  try {
    MapData globals;
    jinja::install_builtins(globals);
    globals.set("strftime_now", strftime_function(inputs.strftime_now));
    if (inputs.bos_token) globals.set("bos_token", Value::string(*inputs.bos_token));
    if (inputs.eos_token) globals.set("eos_token", Value::string(*inputs.eos_token));
    if (!inputs.extra_variables.is_null()) {
      if (!inputs.extra_variables.is_object()) {
        jinja::throw_runtime("extra_variables must be a JSON object");
      }
      for (const auto& [name, value] : inputs.extra_variables.items()) {
        globals.set(name, from_json(value));
      }
    }
    globals.set("messages", from_json(inputs.messages));
    globals.set("tools", from_json(inputs.tools));
    globals.set("add_generation_prompt", Value::boolean(inputs.add_generation_prompt));
    jinja::Interpreter interpreter(*program_, inputs.limits);
    return interpreter.render(globals);
  } catch (const jinja::TemplateError& e) {
    if (e.kind() == jinja::TemplateError::Kind::kRaised) throw ChatTemplateError(e.what(), true);
    const std::string where = e.has_offset() ? " at " + position(program_->source, e.offset()) : "";
    throw ChatTemplateError("chat template error" + where + ": " + e.what(), false);
  } catch (const std::bad_alloc&) {
    throw ChatTemplateError("chat template error: out of memory", false);
  }
}

}  // namespace llm
