// Builds the syntax tree from tokens with Jinja2's grammar and operator precedence
// (jinja2/parser.py): conditional < or < and < not < comparisons (incl. in / not in) < + - <
// ~ < * / // % < ** < unary - + < filters, tests, calls, subscripts.
#pragma once

#include <string>
#include <string_view>

#include "tokenizer/jinja/ast.h"

namespace llm::jinja {

// Parses a whole template; `source` must already be normalize_source()d (lexer.h). Throws a
// TemplateError (kSyntax) whose offset points into it at the offending token.
Program parse_template(std::string source);

}  // namespace llm::jinja
