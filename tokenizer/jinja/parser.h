// Turns template source into the syntax tree: text, {{ }} and the {% %} statements (if, for,
// set, macro, call, filter, with, break, continue, generation), following jinja2/parser.py.
// Expressions are parsed by ExpressionParser; names are then resolved by scoping.h.
#pragma once

#include <string>
#include <string_view>

#include "tokenizer/jinja/ast.h"

namespace llm::jinja {

// Parses a whole template; `source` must already be normalize_source()d (lexer.h). Throws a
// TemplateError (kSyntax) whose offset points into it at the offending token.
Program parse_template(std::string source);

}  // namespace llm::jinja
