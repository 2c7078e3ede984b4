// The JSON Schema subset structured output enforces: what passes (rewritten where needed) and
// what is refused, with the keyword and its place named.
#include "engine/grammar/json_schema_subset.h"

#include <gtest/gtest.h>

#include "llm/error.h"

namespace llm {
namespace {

using json = nlohmann::ordered_json;

struct Case {
  const char* name;
  const char* schema;
  const char* error;  // a substring of the message; nullptr: accepted
};

const Case kCases[] = {
    {"object", R"({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]})",
     nullptr},
    {"annotations", R"({"title":"t","description":"d","$schema":"x","type":"integer","default":1})",
     nullptr},
    {"type list", R"({"type":["string","null"]})", nullptr},
    {"enum and const", R"({"anyOf":[{"enum":[1,"a",null]},{"const":{"k":[1]}}]})", nullptr},
    {"refs",
     R"({"$defs":{"n":{"type":"integer","minimum":0}},"type":"array","items":{"$ref":"#/$defs/n"},"minItems":1,"maxItems":3})",
     nullptr},
    {"definitions",
     R"({"definitions":{"n":{"type":"number","exclusiveMaximum":1.5}},"$ref":"#/definitions/n"})",
     nullptr},
    {"string bounds", R"({"type":"string","minLength":1,"maxLength":8})", nullptr},
    {"pattern", R"({"type":"string","pattern":"^[a-z]+$"})", nullptr},
    {"format", R"({"type":"string","format":"date"})", nullptr},
    {"prefixItems",
     R"({"type":"array","prefixItems":[{"type":"integer"},{"type":"string"}],"items":false})",
     nullptr},
    {"oneOf by type", R"({"oneOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]})",
     nullptr},
    {"oneOf by tag",
     R"({"oneOf":[{"type":"object","properties":{"k":{"const":"a"},"x":{"type":"integer"}},"required":["k","x"]},{"type":"object","properties":{"k":{"enum":["b","c"]}},"required":["k"]}]})",
     nullptr},
    {"boolean schemas", R"({"type":"object","properties":{"a":true},"additionalProperties":false})",
     nullptr},
    // Refused: each would be silently weakened by the grammar engine.
    {"allOf", R"({"allOf":[{"type":"string"}]})", "#/allOf': 'allOf' is not supported"},
    {"uniqueItems",
     R"({"type":"object","properties":{"tags":{"type":"array","uniqueItems":true}}})",
     "#/properties/tags/uniqueItems'"},
    {"multipleOf", R"({"type":"integer","multipleOf":3})", "'multipleOf' is not supported"},
    {"patternProperties", R"({"type":"object","patternProperties":{"^a":{}}})",
     "'patternProperties'"},
    {"not", R"({"not":{"type":"string"}})", "'not' is not supported"},
    {"if", R"({"if":{"type":"string"},"then":{"minLength":1}})", "'if' is not supported"},
    {"unknown keyword", R"({"type":"string","minlength":3})", "'minlength' is not supported"},
    {"unknown format", R"({"type":"string","format":"credit-card"})",
     "format 'credit-card' is not supported"},
    {"pattern with length", R"({"type":"string","pattern":"a+","maxLength":3})",
     "combines pattern with minLength/maxLength"},
    {"format with length", R"({"type":"string","format":"email","minLength":3})",
     "combines format with"},
    {"remote ref", R"({"$ref":"https://example.com/s.json"})", "only local references"},
    {"dangling ref", R"({"$ref":"#/$defs/missing"})", "does not exist"},
    {"overlapping oneOf", R"({"oneOf":[{"type":"number"},{"type":"integer"}]})", "may overlap"},
    {"untyped oneOf", R"({"oneOf":[{"minLength":1},{"maxLength":3}]})", "may overlap"},
    {"bad type", R"({"type":"int"})", "must name JSON types"},
    {"negative bound", R"({"type":"array","maxItems":-1})", "non-negative integer"},
    {"not a schema", R"({"type":"object","properties":{"a":3}})",
     "#/properties/a': it is not a schema"},
    {"empty enum", R"({"enum":[]})", "non-empty list"},
};

TEST(JsonSchemaSubset, AcceptsTheSubsetAndNamesWhatItRefuses) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const json schema = json::parse(c.schema);
    if (!c.error) {
      EXPECT_NO_THROW(check_json_schema_subset(schema, "response_format"));
      continue;
    }
    try {
      check_json_schema_subset(schema, "response_format");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(e.param(), "response_format");
      EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos) << e.what();
    }
  }
}

TEST(JsonSchemaSubset, DropsAnnotationsAndRewritesNullable) {
  const json in = json::parse(
      R"({"title":"T","type":"object","properties":{"b":{"type":"string","nullable":true,"description":"x"},"a":{"type":"integer"}}})");
  const json out = check_json_schema_subset(in, "p");
  EXPECT_FALSE(out.contains("title"));
  // Property order is kept: the grammar generates properties in the schema's order.
  EXPECT_EQ(out["properties"].begin().key(), "b");
  EXPECT_EQ(out["properties"]["b"],
            json::parse(R"({"anyOf":[{"type":"string"},{"type":"null"}]})"));
  EXPECT_EQ(out["properties"]["a"], json::parse(R"({"type":"integer"})"));
}

// Rewrites that keep the engine from weakening a schema; each output schema only narrows
// what the input allows.
TEST(JsonSchemaSubset, MakesImplicitConstraintsExplicit) {
  struct Rewrite {
    const char* in;
    const char* out;
  };
  const Rewrite rewrites[] = {
      // Type-specific keywords without a type: only that type is generated.
      {R"({"maxLength":2})", R"({"type":"string","maxLength":2})"},
      {R"({"minimum":1,"maxItems":2})",
       R"({"anyOf":[{"type":"number","minimum":1},{"type":"array","maxItems":2}]})"},
      // Required but undeclared properties are declared (else the engine never writes them).
      {R"({"type":"object","required":["a"]})",
       R"({"type":"object","required":["a"],"properties":{"a":true}})"},
      {R"({"type":"object","required":["a"],"additionalProperties":{"type":"integer"}})",
       R"({"type":"object","required":["a"],"additionalProperties":{"type":"integer"},"properties":{"a":{"type":"integer"}}})"},
      // Keywords beside anyOf apply to every branch.
      {R"({"type":"string","anyOf":[{"maxLength":2},{"minLength":4}]})",
       R"({"anyOf":[{"type":"string","maxLength":2},{"type":"string","minLength":4}]})"},
  };
  for (const Rewrite& r : rewrites) {
    EXPECT_EQ(check_json_schema_subset(json::parse(r.in), "p"), json::parse(r.out)) << r.in;
  }
  const char* refused[] = {
      R"({"type":"object","required":["a"],"additionalProperties":false})",
      R"({"$ref":"#/$defs/a","maxLength":3,"$defs":{"a":{"type":"string"}}})",
      R"({"maxLength":2,"anyOf":[{"maxLength":3}]})",
  };
  for (const char* r : refused)
    EXPECT_THROW(check_json_schema_subset(json::parse(r), "p"), Error) << r;
}

TEST(JsonSchemaSubset, RefusesSchemasNestedTooDeep) {
  std::string s;
  for (int i = 0; i < 200; ++i) s += R"({"type":"array","items":)";
  s += "{}";
  for (int i = 0; i < 200; ++i) s += "}";
  EXPECT_THROW(check_json_schema_subset(json::parse(s), "p"), Error);
}

}  // namespace
}  // namespace llm
