#include "engine/grammar/json_schema_subset.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "llm/error.h"

namespace llm {
namespace {

using json = nlohmann::ordered_json;

// Keywords by what they constrain. Any other key in a schema object is refused.
const std::set<std::string_view> kAnnotations = {
    "title", "description", "default",    "examples", "$schema",
    "$id",   "$comment",    "deprecated", "readOnly", "writeOnly"};
const std::set<std::string_view> kSupported = {"type",
                                               "enum",
                                               "const",
                                               "anyOf",
                                               "oneOf",
                                               "$ref",
                                               "$defs",
                                               "definitions",
                                               "nullable",
                                               "properties",
                                               "required",
                                               "additionalProperties",
                                               "minProperties",
                                               "maxProperties",
                                               "items",
                                               "prefixItems",
                                               "minItems",
                                               "maxItems",
                                               "minLength",
                                               "maxLength",
                                               "pattern",
                                               "format",
                                               "minimum",
                                               "maximum",
                                               "exclusiveMinimum",
                                               "exclusiveMaximum"};
const std::set<std::string_view> kFormats = {"date",  "time",     "date-time", "duration", "uuid",
                                             "email", "hostname", "ipv4",      "ipv6",     "uri"};
const std::set<std::string_view> kTypes = {"string", "number", "integer", "boolean",
                                           "object", "array",  "null"};

// Deeper schemas than this are refused rather than recursed into (request JSON itself nests at
// most 512 levels; a schema has two JSON levels per schema level at most).
constexpr int kMaxSchemaDepth = 128;

class SubsetChecker {
 public:
  SubsetChecker(const json& root, std::string param) : root_(root), param_(std::move(param)) {}

  json check(const json& schema, const std::string& path, int depth) {
    if (depth > kMaxSchemaDepth)
      fail(path, "it nests deeper than " + std::to_string(kMaxSchemaDepth) + " schemas");
    if (schema.is_boolean()) return schema;
    if (!schema.is_object()) fail(path, "it is not a schema (an object or a boolean)");
    json out = json::object();
    for (const auto& [key, value] : schema.items()) {
      const std::string at = path + "/" + key;
      if (kAnnotations.contains(key)) continue;  // dropped: they constrain nothing
      if (!kSupported.contains(key)) {
        fail(at, "'" + key + "' is not supported by structured output");
      }
      out[key] = check_keyword(key, value, schema, at, depth);
    }
    check_combinations(schema, path);
    if (out.contains("nullable")) {
      // OpenAPI's nullable: the schema, or null.
      const bool nullable = out["nullable"].get<bool>();
      out.erase("nullable");
      if (nullable)
        out = json{{"anyOf", json::array({infer_type(out, path), json{{"type", "null"}}})}};
    }
    return distribute(infer_type(declare_required(std::move(out), path), path), path);
  }

 private:
  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw Error(ErrorCode::kInvalidArgument,
                "the JSON schema at '" + (path.empty() ? "#" : path) + "': " + what, param_);
  }

  json check_keyword(const std::string& key, const json& v, const json& schema,
                     const std::string& at, int depth) {
    if (key == "type") {
      auto check_name = [&](const json& t) {
        if (!t.is_string() || !kTypes.contains(t.get<std::string>())) {
          fail(at,
               "it must name JSON types (string, number, integer, boolean, object, array, null)");
        }
      };
      if (v.is_array()) {
        if (v.empty()) fail(at, "it must not be empty");
        for (const json& t : v) check_name(t);
      } else {
        check_name(v);
      }
      return v;
    }
    if (key == "enum") {
      if (!v.is_array() || v.empty()) fail(at, "it must be a non-empty list");
      return v;
    }
    if (key == "const") return v;
    if (key == "anyOf" || key == "oneOf") {
      if (!v.is_array() || v.empty()) fail(at, "it must be a non-empty list of schemas");
      json out = json::array();
      for (size_t i = 0; i < v.size(); ++i)
        out.push_back(check(v[i], at + "/" + std::to_string(i), depth + 1));
      if (key == "oneOf") check_one_of_disjoint(v, at);
      return out;
    }
    if (key == "$ref") {
      if (!v.is_string()) fail(at, "it must be a string");
      resolve(v.get<std::string>(), at);
      return v;
    }
    if (key == "$defs" || key == "definitions" || key == "properties") {
      if (!v.is_object()) fail(at, "it must be an object of schemas");
      json out = json::object();
      for (const auto& [name, sub] : v.items()) out[name] = check(sub, at + "/" + name, depth + 1);
      return out;
    }
    if (key == "nullable") {
      if (!v.is_boolean()) fail(at, "it must be a boolean");
      return v;
    }
    if (key == "required") {
      if (!v.is_array()) fail(at, "it must be a list of property names");
      for (const json& name : v) {
        if (!name.is_string()) fail(at, "it must be a list of property names");
      }
      return v;
    }
    if (key == "additionalProperties" || key == "items") {
      return check(v, at, depth + 1);
    }
    if (key == "prefixItems") {
      if (!v.is_array()) fail(at, "it must be a list of schemas");
      json out = json::array();
      for (size_t i = 0; i < v.size(); ++i)
        out.push_back(check(v[i], at + "/" + std::to_string(i), depth + 1));
      return out;
    }
    if (key == "minProperties" || key == "maxProperties" || key == "minItems" ||
        key == "maxItems" || key == "minLength" || key == "maxLength") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0)
        fail(at, "it must be a non-negative integer");
      return v;
    }
    if (key == "pattern") {
      if (!v.is_string()) fail(at, "it must be a string");
      return v;  // the engine's regex compiler names what it cannot handle
    }
    if (key == "format") {
      if (!v.is_string()) fail(at, "it must be a string");
      if (!kFormats.contains(v.get<std::string>())) {
        fail(at, "format '" + v.get<std::string>() +
                     "' is not supported by structured output (supported: date, time, date-time, "
                     "duration, uuid, email, hostname, ipv4, ipv6, uri)");
      }
      return v;
    }
    // minimum, maximum, exclusiveMinimum, exclusiveMaximum (draft 6+: numbers).
    if (!v.is_number()) fail(at, "it must be a number");
    (void)schema;
    return v;
  }

  // A required property missing from "properties" would be dropped by the engine (which
  // generates only declared properties): it is declared, with the additionalProperties schema
  // (any value when that is absent).
  json declare_required(json s, const std::string& path) const {
    if (!s.is_object() || !s.contains("required")) return s;
    // A copy: adding "properties" below may move the object's members (an ordered_json is a
    // vector of them), and with them a reference into "required".
    const json required = s["required"];
    for (const json& name : required) {
      const std::string n = name.get<std::string>();
      if (s.contains("properties") && s["properties"].contains(n)) continue;
      const json extra = s.value("additionalProperties", json(true));
      if (extra == json(false)) {
        fail(path, "it requires '" + n +
                       "', which is not in properties and additionalProperties forbids");
      }
      s["properties"][n] = extra;
    }
    return s;
  }

  // Keywords that only constrain values of one JSON type, by that type.
  static const char* family_of(const std::string& key) {
    static const std::pair<const char*, const char*> kFamilies[] = {
        {"minLength", "string"},
        {"maxLength", "string"},
        {"pattern", "string"},
        {"format", "string"},
        {"minimum", "number"},
        {"maximum", "number"},
        {"exclusiveMinimum", "number"},
        {"exclusiveMaximum", "number"},
        {"items", "array"},
        {"prefixItems", "array"},
        {"minItems", "array"},
        {"maxItems", "array"},
        {"properties", "object"},
        {"required", "object"},
        {"additionalProperties", "object"},
        {"minProperties", "object"},
        {"maxProperties", "object"}};
    for (const auto& [k, family] : kFamilies) {
      if (key == k) return family;
    }
    return nullptr;
  }

  // A schema without "type" (nor enum, const, anyOf, oneOf, $ref) whose keywords constrain
  // one type's values, such as {"maxLength": 2}, lets every other type through; the engine
  // would then generate any string and ignore the bound. Generating only the constrained
  // types keeps every output valid: {"type": "string", "maxLength": 2}, or an anyOf of one
  // branch per type when keywords of several types appear.
  json infer_type(json s, const std::string& path) const {
    (void)path;
    if (!s.is_object() || s.contains("type")) return s;
    for (const char* k : {"enum", "const", "anyOf", "oneOf", "$ref"}) {
      if (s.contains(k)) return s;
    }
    json by_family = json::object();
    for (auto it = s.begin(); it != s.end();) {
      if (const char* family = family_of(it.key())) {
        by_family[family][it.key()] = it.value();
        it = s.erase(it);
      } else {
        ++it;
      }
    }
    if (by_family.empty()) return s;
    json branches = json::array();
    for (auto& [family, keywords] : by_family.items()) {
      json b = json{{"type", family}};
      b.update(keywords);
      branches.push_back(std::move(b));
    }
    if (branches.size() == 1) {
      s.update(branches[0]);
    } else {
      s["anyOf"] = std::move(branches);
    }
    return s;
  }

  // Keywords beside anyOf / oneOf also apply to the value, which the engine would ignore:
  // they move into every branch (A and (B or C) is (A and B) or (A and C), and likewise for
  // exactly one). Beside a $ref they are refused.
  json distribute(json s, const std::string& path) const {
    if (!s.is_object()) return s;
    const char* alt = s.contains("anyOf") ? "anyOf" : s.contains("oneOf") ? "oneOf" : nullptr;
    json siblings = json::object();
    for (const auto& [k, v] : s.items()) {
      if (k != "anyOf" && k != "oneOf" && k != "$ref" && k != "$defs" && k != "definitions")
        siblings[k] = v;
    }
    if (siblings.empty()) return s;
    if (s.contains("$ref"))
      fail(path, "it combines $ref with other keywords, which structured output does not support");
    if (!alt) return s;
    if (s.contains("anyOf") && s.contains("oneOf"))
      fail(path, "it combines anyOf with oneOf, which structured output does not support");
    json branches = json::array();
    for (const json& b : s[alt]) {
      if (b.is_boolean()) {
        branches.push_back(b.get<bool>() ? siblings : b);
        continue;
      }
      json merged = siblings;
      for (const auto& [k, v] : b.items()) {
        if (merged.contains(k) && merged[k] != v) {
          fail(path, "it sets '" + k + "' both beside " + alt +
                         " and in a branch, which structured output does not support");
        }
        if (k == "$ref")
          fail(path, "it combines keywords beside " + std::string(alt) +
                         " with a $ref branch, which structured output does not support");
        merged[k] = v;
      }
      branches.push_back(infer_type(std::move(merged), path));
    }
    json out = json::object();
    for (const char* k : {"$defs", "definitions"}) {
      if (s.contains(k)) out[k] = s[k];
    }
    out[alt] = std::move(branches);
    return out;
  }

  // Combinations the engine would silently weaken.
  void check_combinations(const json& schema, const std::string& path) const {
    const bool generative = schema.contains("pattern") || schema.contains("format");
    if (generative && (schema.contains("minLength") || schema.contains("maxLength"))) {
      fail(path, "it combines " + std::string(schema.contains("pattern") ? "pattern" : "format") +
                     " with minLength/maxLength, which structured output does not support");
    }
    if (schema.contains("pattern") && schema.contains("format")) {
      fail(path, "it combines pattern with format, which structured output does not support");
    }
  }

  const json& resolve(const std::string& ref, const std::string& at) const {
    if (ref.empty() || ref[0] != '#')
      fail(at, "it refers to '" + ref + "': only local references (\"#/...\") are supported");
    if (ref == "#") return root_;
    try {
      const json& target = root_.at(json::json_pointer(ref.substr(1)));
      return target;
    } catch (const json::exception&) {
      fail(at, "it refers to '" + ref + "', which does not exist in the schema");
    }
  }

  // Follows $ref chains (bounded: a cycle of references is refused).
  const json& deref(const json& schema, const std::string& at) const {
    const json* s = &schema;
    for (int i = 0; i < 32 && s->is_object() && s->contains("$ref"); ++i) {
      s = &resolve((*s)["$ref"].get<std::string>(), at);
    }
    return *s;
  }

  // A branch's possible JSON types; empty when it does not say.
  static std::set<std::string> types_of(const json& s) {
    std::set<std::string> out;
    auto type_of_value = [](const json& x) -> std::string {
      if (x.is_null()) return "null";
      if (x.is_boolean()) return "boolean";
      if (x.is_number()) return "number";
      if (x.is_string()) return "string";
      if (x.is_array()) return "array";
      return "object";
    };
    if (!s.is_object()) return out;
    if (s.contains("const")) return {type_of_value(s["const"])};
    if (s.contains("enum") && s["enum"].is_array()) {
      for (const json& x : s["enum"]) out.insert(type_of_value(x));
      return out;
    }
    if (auto t = s.find("type"); t != s.end()) {
      for (const json& name : t->is_array() ? *t : json::array({*t})) {
        // Every integer is a number: the two overlap.
        out.insert(name == "integer" ? "number" : name.get<std::string>());
      }
      if (s.value("nullable", false)) out.insert("null");
    }
    return out;
  }

  // The values property NAME may take in branch S (its const or enum), when S requires it.
  static std::optional<std::vector<json>> tag_values(const json& s, const std::string& name) {
    if (!s.is_object() || !s.contains("required") || !s.contains("properties")) return std::nullopt;
    const json& req = s["required"];
    if (std::find(req.begin(), req.end(), json(name)) == req.end()) return std::nullopt;
    const json& props = s["properties"];
    if (!props.is_object() || !props.contains(name) || !props[name].is_object())
      return std::nullopt;
    const json& p = props[name];
    if (p.contains("const")) return std::vector<json>{p["const"]};
    if (p.contains("enum") && p["enum"].is_array())
      return std::vector<json>(p["enum"].begin(), p["enum"].end());
    return std::nullopt;
  }

  // oneOf means exactly one branch matches; the engine enforces "at least one". The two agree
  // when no value can match two branches, which holds for branches of distinct types or with a
  // required discriminating property whose values differ.
  void check_one_of_disjoint(const json& branches, const std::string& at) const {
    std::vector<const json*> bs;
    for (const json& b : branches) bs.push_back(&deref(b, at));
    bool types_disjoint = true;
    std::set<std::string> seen;
    for (const json* b : bs) {
      const auto types = types_of(*b);
      if (types.empty()) {
        types_disjoint = false;
        break;
      }
      for (const std::string& t : types) {
        if (!seen.insert(t).second) types_disjoint = false;
      }
    }
    if (types_disjoint) return;
    if (bs[0]->is_object() && bs[0]->contains("properties") && (*bs[0])["properties"].is_object()) {
      for (const auto& [name, unused] : (*bs[0])["properties"].items()) {
        std::vector<json> all;
        bool ok = true;
        for (const json* b : bs) {
          auto values = tag_values(*b, name);
          if (!values) {
            ok = false;
            break;
          }
          for (const json& v : *values) {
            if (std::find(all.begin(), all.end(), v) != all.end()) ok = false;
            all.push_back(v);
          }
        }
        if (ok) return;
      }
    }
    fail(at,
         "it is a oneOf whose branches may overlap; structured output enforces oneOf only when "
         "the branches have distinct types or a required property with distinct const/enum "
         "values (use anyOf otherwise)");
  }

  const json& root_;
  std::string param_;
};

}  // namespace

nlohmann::ordered_json check_json_schema_subset(const nlohmann::ordered_json& schema,
                                                const std::string& param) {
  return SubsetChecker(schema, param).check(schema, "#", 0);
}

}  // namespace llm
