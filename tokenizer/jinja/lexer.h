// Splits template source into text and tag tokens the way Jinja2's lexer does with
// trim_blocks, lstrip_blocks and keep_trailing_newline=False: line endings normalized to
// "\n", one trailing newline dropped, whitespace control ({%- -%} {{- -}} {%+ +%}) applied to
// the text tokens, comments and {% raw %} resolved here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llm::jinja {

struct Token {
  enum class Type {
    kText,        // literal template text (whitespace control already applied)
    kVarBegin,    // {{
    kVarEnd,      // }}
    kBlockBegin,  // {%
    kBlockEnd,    // %}
    kName,
    kString,  // text holds the unescaped value
    kInt,
    kFloat,
    kOperator,  // text holds the operator: + - * / // % ** ~ ( ) [ ] { } == != < <= > >= = . : | ,
    kEof,
  };
  Type type;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  size_t offset = 0;  // into the normalized source
};

// The source as Jinja sees it: "\r\n" and "\r" become "\n"; one trailing newline is dropped.
std::string normalize_source(std::string_view source);

// Tokenizes normalized source. Throws a TemplateError (kSyntax) with the offset of the
// offending character.
std::vector<Token> tokenize(std::string_view source);

// Line and column (1-based, the column in code points) of a byte offset.
void line_column(std::string_view source, size_t offset, size_t* line, size_t* column);

}  // namespace llm::jinja
