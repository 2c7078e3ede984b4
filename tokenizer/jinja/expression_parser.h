// Jinja2's expression grammar and operator precedence (jinja2/parser.py): conditional <
// or < and < not < comparisons (incl. in / not in) < + - < ~ < * / // % < ** < unary - + <
// filters, tests, calls, subscripts. `not x is defined` is `not (x is defined)`, and
// `a + b | trim` trims only b.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/token_stream.h"

namespace llm::jinja {

class ExpressionParser {
 public:
  explicit ExpressionParser(TokenStream& stream) : ts_(stream) {}

  // An expression; without `with_condexpr`, no trailing `x if y else z` (for-loop and if
  // headers, where `if` means something else).
  ExprPtr parse_expression(bool with_condexpr);
  // Comma-separated expressions: a tuple when there is a comma, else the one expression.
  ExprPtr parse_tuple(bool with_condexpr, std::initializer_list<std::string_view> extra_end,
                      bool explicit_parens);
  // `| name(args) | name ...`; with `inline_first` the first filter has no leading pipe
  // (the {% filter %} tag). A null `node` stands for the block's text.
  ExprPtr parse_filter(ExprPtr node, bool inline_first);

 private:
  bool at_tuple_end(std::initializer_list<std::string_view> extra_end) const;
  ExprPtr parse_condexpr();
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  std::vector<Arg> parse_call_args();
  ExprPtr parse_call(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  ExprPtr parse_test(ExprPtr node);

  TokenStream& ts_;
};

}  // namespace llm::jinja
