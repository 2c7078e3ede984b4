#include "server/openai_structured_output.h"

#include "server/api_error.h"
#include "server/request_fields.h"

namespace llm {
namespace {

using ojson = nlohmann::ordered_json;
using Kind = StructuredOutput::Kind;

using request_fields::bad;
using request_fields::field;

// A schema given as an object, or as a JSON string of one (vLLM accepts both for guided_json).
std::string schema_text(const ojson& v, const std::string& param) {
  if (v.is_object() || v.is_boolean()) return v.dump();
  if (v.is_string()) {
    try {
      return ojson::parse(v.get<std::string>()).dump();
    } catch (const ojson::exception&) {
      bad(param, "'" + param + "' is a string that does not parse as a JSON schema");
    }
  }
  bad(param, "'" + param + "' must be a JSON schema (an object)");
}

std::string string_field(const ojson& v, const std::string& param) {
  if (!v.is_string() || v.get<std::string>().empty())
    bad(param, "'" + param + "' must be a non-empty string");
  return v.get<std::string>();
}

std::string choice_list(const ojson& v, const std::string& param) {
  if (!v.is_array() || v.empty()) bad(param, "'" + param + "' must be a non-empty list of strings");
  for (const ojson& c : v) {
    if (!c.is_string()) bad(param, "'" + param + "' must be a non-empty list of strings");
  }
  return v.dump();
}

std::optional<StructuredOutput> read_response_format(const ojson& rf) {
  const std::string param = "response_format";
  if (!rf.is_object()) bad(param, "'response_format' must be an object");
  const ojson* type = field(rf, "type");
  if (!type || !type->is_string()) bad(param, "'response_format' needs a string 'type'");
  const std::string t = type->get<std::string>();
  if (t == "text") return std::nullopt;
  if (t == "json_object") return StructuredOutput{Kind::kJsonObject, "", param};
  if (t == "json_schema") {
    const ojson* js = field(rf, "json_schema");
    if (!js || !js->is_object())
      bad(param, "response_format json_schema needs a 'json_schema' object");
    // OpenAI names the schema; the name and "strict" change nothing here: every schema is
    // enforced (strictly) or refused.
    if (const ojson* name = field(*js, "name"); name && !name->is_string()) {
      bad(param, "response_format json_schema 'name' must be a string");
    }
    if (const ojson* strict = field(*js, "strict"); strict && !strict->is_boolean()) {
      bad(param, "response_format json_schema 'strict' must be a boolean");
    }
    const ojson* schema = field(*js, "schema");
    if (!schema) bad(param, "response_format json_schema needs a 'schema'");
    return StructuredOutput{Kind::kJsonSchema, schema_text(*schema, param), param};
  }
  bad(param, "response_format type must be text, json_object or json_schema, got '" + t + "'");
}

}  // namespace

std::optional<StructuredOutput> read_structured_output(const ojson& body) {
  std::optional<StructuredOutput> out;
  std::string first;
  auto set = [&](const std::string& param, std::optional<StructuredOutput> so) {
    if (!so) return;
    if (out)
      bad(param, "'" + param + "' cannot be combined with '" + first + "': give one constraint");
    first = param;
    out = std::move(so);
  };
  if (const ojson* rf = field(body, "response_format"))
    set("response_format", read_response_format(*rf));
  struct Guided {
    const char* param;
    const char* key;  // in structured_outputs
    Kind kind;
  };
  static constexpr Guided kGuided[] = {{"guided_json", "json", Kind::kJsonSchema},
                                       {"guided_regex", "regex", Kind::kRegex},
                                       {"guided_choice", "choice", Kind::kChoice},
                                       {"guided_grammar", "grammar", Kind::kGrammar}};
  auto read = [&](const Guided& g, const ojson& v, const std::string& param) {
    switch (g.kind) {
      case Kind::kJsonSchema:
        return StructuredOutput{g.kind, schema_text(v, param), param};
      case Kind::kChoice:
        return StructuredOutput{g.kind, choice_list(v, param), param};
      default:
        return StructuredOutput{g.kind, string_field(v, param), param};
    }
  };
  for (const Guided& g : kGuided) {
    if (const ojson* v = field(body, g.param)) set(g.param, read(g, *v, g.param));
  }
  if (const ojson* so = field(body, "structured_outputs")) {
    if (!so->is_object()) bad("structured_outputs", "'structured_outputs' must be an object");
    for (const auto& [key, v] : so->items()) {
      const std::string param = "structured_outputs." + key;
      const Guided* g = nullptr;
      for (const Guided& x : kGuided) {
        if (key == x.key) g = &x;
      }
      if (!g) {
        bad(param, "'" + param + "' is not supported (supported: json, regex, choice, grammar)");
      }
      if (!v.is_null()) set(param, read(*g, v, param));
    }
  }
  return out;
}

}  // namespace llm
