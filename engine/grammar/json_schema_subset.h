// The JSON Schema subset structured output enforces, checked before compiling: a schema that
// uses anything else is refused naming the keyword and where it is, because the grammar engine
// would otherwise ignore it and let through output the schema forbids.
//
// Supported (the subset OpenAI and vLLM clients send):
//   type (a name or a list of names), enum, const, anyOf, oneOf (branches that cannot overlap:
//   distinct types, or a required property whose const / enum values differ), $ref to "#..."
//   with $defs / definitions, nullable (OpenAPI's: rewritten to a "null" alternative);
//   object: properties, required, additionalProperties, minProperties, maxProperties;
//   array: items, prefixItems, minItems, maxItems;
//   string: minLength, maxLength, pattern, format (date, time, date-time, duration, uuid,
//   email, hostname, ipv4, ipv6, uri) - a pattern or format together with a length bound is
//   refused, since the engine would drop the bound;
//   number / integer: minimum, maximum, exclusiveMinimum, exclusiveMaximum;
//   annotations, which constrain nothing: title, description, default, examples, $schema, $id,
//   $comment, deprecated, readOnly, writeOnly.
// Not supported (refused): allOf, not, if/then/else, multipleOf, uniqueItems, contains,
// patternProperties, propertyNames, dependentRequired, dependentSchemas, unevaluated*, remote
// $refs, and every keyword not named above.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace llm {

// Returns SCHEMA as the grammar engine should see it ("nullable" rewritten). Throws
// llm::Error(kInvalidArgument, param PARAM) naming the first unsupported keyword with its JSON
// pointer ("#/properties/tags/uniqueItems"), or what is malformed.
nlohmann::ordered_json check_json_schema_subset(const nlohmann::ordered_json& schema,
                                                const std::string& param);

}  // namespace llm
