#include "tokenizer/jinja/expression_parser.h"

#include <algorithm>

#include "tokenizer/jinja/budget.h"

namespace llm::jinja {
namespace {

using Kind = Expr::Kind;

ExprPtr make(Kind kind, size_t offset) {
  return std::make_unique<Expr>(kind, offset);
}

// Sets the subtree height; a tree taller than kMaxSyntaxDepth would make evaluation and
// destruction recurse too deep, so it is a syntax error.
ExprPtr finish(ExprPtr e) {
  int depth = 0;
  for (const ExprPtr& c : e->children) {
    if (c) depth = std::max(depth, c->depth);
  }
  for (const Arg& a : e->args) depth = std::max(depth, a.value->depth);
  e->depth = depth + 1;
  if (e->depth > kMaxSyntaxDepth) TokenStream::fail_at("expression nested too deeply", e->offset);
  return e;
}

ExprPtr unary(Kind kind, size_t offset, ExprPtr child) {
  ExprPtr e = make(kind, offset);
  e->children.push_back(std::move(child));
  return finish(std::move(e));
}

ExprPtr binary(Kind kind, size_t offset, std::string op, ExprPtr left, ExprPtr right) {
  ExprPtr e = make(kind, offset);
  e->op = std::move(op);
  e->children.push_back(std::move(left));
  e->children.push_back(std::move(right));
  return finish(std::move(e));
}

}  // namespace

bool ExpressionParser::at_tuple_end(std::initializer_list<std::string_view> extra_end) const {
  const Token& t = ts_.cur();
  if (t.type == Token::Type::kVarEnd || t.type == Token::Type::kBlockEnd || ts_.is_op(t, ")")) {
    return true;
  }
  for (std::string_view name : extra_end) {
    if (ts_.is_name(t, name)) return true;
  }
  return false;
}

// Comma-separated expressions: a tuple when there is a comma, else the one expression.
ExprPtr ExpressionParser::parse_tuple(bool with_condexpr,
                                      std::initializer_list<std::string_view> extra_end,
                                      bool explicit_parens) {
  const size_t offset = ts_.cur().offset;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) ts_.expect_op(",");
    if (at_tuple_end(extra_end)) break;
    items.push_back(parse_expression(with_condexpr));
    if (!ts_.is_op(",")) break;
    is_tuple = true;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items.front());
    if (!explicit_parens) ts_.fail("Expected an expression, got '" + ts_.describe(ts_.cur()) + "'");
  }
  ExprPtr e = make(Kind::kTuple, offset);
  e->children = std::move(items);
  return finish(std::move(e));
}

ExprPtr ExpressionParser::parse_expression(bool with_condexpr) {
  return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr ExpressionParser::parse_condexpr() {
  TokenStream::Nest nest(ts_);
  ExprPtr expr = parse_or();
  while (ts_.is_name("if")) {
    const size_t offset = ts_.advance().offset;
    ExprPtr condition = parse_or();
    ExprPtr otherwise = ts_.skip_name("else") ? parse_condexpr() : nullptr;
    ExprPtr e = make(Kind::kCondition, offset);
    e->children.push_back(std::move(expr));
    e->children.push_back(std::move(condition));
    e->children.push_back(std::move(otherwise));
    expr = finish(std::move(e));
  }
  return expr;
}

ExprPtr ExpressionParser::parse_or() {
  ExprPtr left = parse_and();
  while (ts_.is_name("or")) {
    const size_t offset = ts_.advance().offset;
    left = binary(Kind::kOr, offset, "or", std::move(left), parse_and());
  }
  return left;
}

ExprPtr ExpressionParser::parse_and() {
  ExprPtr left = parse_not();
  while (ts_.is_name("and")) {
    const size_t offset = ts_.advance().offset;
    left = binary(Kind::kAnd, offset, "and", std::move(left), parse_not());
  }
  return left;
}

ExprPtr ExpressionParser::parse_not() {
  if (ts_.is_name("not")) {
    TokenStream::Nest nest(ts_);
    const size_t offset = ts_.advance().offset;
    return unary(Kind::kNot, offset, parse_not());
  }
  return parse_compare();
}

ExprPtr ExpressionParser::parse_compare() {
  const size_t offset = ts_.cur().offset;
  ExprPtr first = parse_math1();
  ExprPtr e;
  while (true) {
    std::string op;
    const Token& t = ts_.cur();
    if (t.type == Token::Type::kOperator && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                             t.text == "<=" || t.text == ">" || t.text == ">=")) {
      op = t.text;
      ts_.advance();
    } else if (ts_.is_name("in")) {
      op = "in";
      ts_.advance();
    } else if (ts_.is_name("not") && ts_.is_name(ts_.look(), "in")) {
      op = "not in";
      ts_.advance();
      ts_.advance();
    } else {
      break;
    }
    if (!e) {
      e = make(Kind::kCompare, offset);
      e->children.push_back(std::move(first));
    }
    e->ops.push_back(op);
    e->children.push_back(parse_math1());
  }
  return e ? finish(std::move(e)) : std::move(first);
}

ExprPtr ExpressionParser::parse_math1() {
  ExprPtr left = parse_concat();
  while (ts_.is_op("+") || ts_.is_op("-")) {
    const Token& t = ts_.advance();
    left = binary(Kind::kBinary, t.offset, t.text, std::move(left), parse_concat());
  }
  return left;
}

ExprPtr ExpressionParser::parse_concat() {
  ExprPtr first = parse_math2();
  if (!ts_.is_op("~")) return first;
  ExprPtr e = make(Kind::kConcat, ts_.cur().offset);
  e->children.push_back(std::move(first));
  while (ts_.skip_op("~")) e->children.push_back(parse_math2());
  return finish(std::move(e));
}

ExprPtr ExpressionParser::parse_math2() {
  ExprPtr left = parse_pow();
  while (ts_.is_op("*") || ts_.is_op("/") || ts_.is_op("//") || ts_.is_op("%")) {
    const Token& t = ts_.advance();
    left = binary(Kind::kBinary, t.offset, t.text, std::move(left), parse_pow());
  }
  return left;
}

ExprPtr ExpressionParser::parse_pow() {
  ExprPtr left = parse_unary(true);
  while (ts_.is_op("**")) {
    const Token& t = ts_.advance();
    left = binary(Kind::kBinary, t.offset, t.text, std::move(left), parse_unary(true));
  }
  return left;
}

ExprPtr ExpressionParser::parse_unary(bool with_filter) {
  TokenStream::Nest nest(ts_);
  ExprPtr node;
  if (ts_.is_op("-") || ts_.is_op("+")) {
    const Token& t = ts_.advance();
    node = unary(t.text == "-" ? Kind::kNeg : Kind::kPos, t.offset, parse_unary(false));
  } else {
    node = parse_primary();
  }
  node = parse_postfix(std::move(node));
  if (with_filter) node = parse_filter_expr(std::move(node));
  return node;
}

ExprPtr ExpressionParser::parse_primary() {
  const Token& t = ts_.cur();
  const size_t offset = t.offset;
  switch (t.type) {
    case Token::Type::kName: {
      ExprPtr e = make(Kind::kLiteral, offset);
      if (t.text == "true" || t.text == "True") {
        e->literal = Value::boolean(true);
      } else if (t.text == "false" || t.text == "False") {
        e->literal = Value::boolean(false);
      } else if (t.text == "none" || t.text == "None") {
        e->literal = Value::none();
      } else {
        e->kind = Kind::kName;
        e->name = t.text;
      }
      ts_.advance();
      return e;
    }
    case Token::Type::kString: {
      std::string text;
      while (ts_.cur().type == Token::Type::kString) text += ts_.advance().text;  // "a" "b" == "ab"
      ExprPtr e = make(Kind::kLiteral, offset);
      e->literal = Value::string(std::move(text));
      return e;
    }
    case Token::Type::kInt:
    case Token::Type::kFloat: {
      ExprPtr e = make(Kind::kLiteral, offset);
      e->literal =
          t.type == Token::Type::kInt ? Value::integer(t.int_value) : Value::number(t.float_value);
      ts_.advance();
      return e;
    }
    default:
      break;
  }
  if (ts_.skip_op("(")) {
    ExprPtr e = parse_tuple(true, {}, true);
    ts_.expect_op(")");
    return e;
  }
  if (ts_.skip_op("[")) {
    ExprPtr e = make(Kind::kList, offset);
    while (!ts_.is_op("]")) {
      if (!e->children.empty()) ts_.expect_op(",");
      if (ts_.is_op("]")) break;
      e->children.push_back(parse_expression(true));
    }
    ts_.expect_op("]");
    return finish(std::move(e));
  }
  if (ts_.skip_op("{")) {
    ExprPtr e = make(Kind::kDict, offset);
    while (!ts_.is_op("}")) {
      if (!e->children.empty()) ts_.expect_op(",");
      if (ts_.is_op("}")) break;
      e->children.push_back(parse_expression(true));
      ts_.expect_op(":");
      e->children.push_back(parse_expression(true));
    }
    ts_.expect_op("}");
    return finish(std::move(e));
  }
  ts_.fail("unexpected '" + ts_.describe(t) + "'");
}

ExprPtr ExpressionParser::parse_postfix(ExprPtr node) {
  while (true) {
    if (ts_.is_op(".")) {
      ts_.advance();
      const Token& t = ts_.cur();
      if (t.type == Token::Type::kName) {
        ExprPtr e = make(Kind::kAttr, t.offset);
        e->name = t.text;
        e->children.push_back(std::move(node));
        ts_.advance();
        node = finish(std::move(e));
      } else if (t.type == Token::Type::kInt) {
        ExprPtr key = make(Kind::kLiteral, t.offset);
        key->literal = Value::integer(t.int_value);
        ExprPtr e = make(Kind::kItem, t.offset);
        e->children.push_back(std::move(node));
        e->children.push_back(std::move(key));
        ts_.advance();
        node = finish(std::move(e));
      } else {
        ts_.fail("expected name or number");
      }
    } else if (ts_.is_op("[")) {
      node = parse_subscript(std::move(node));
    } else if (ts_.is_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr ExpressionParser::parse_subscript(ExprPtr node) {
  const size_t offset = ts_.advance().offset;  // '['
  TokenStream::Nest nest(ts_);
  ExprPtr start;
  if (!ts_.is_op(":")) {
    // x[] is an empty tuple key in Jinja.
    start = ts_.is_op("]") ? finish(make(Kind::kTuple, ts_.cur().offset)) : parse_expression(true);
    if (ts_.is_op(",")) {  // x[a, b]: a tuple key (no mapping here has one; it yields undefined)
      ExprPtr key = make(Kind::kTuple, start->offset);
      key->children.push_back(std::move(start));
      while (ts_.skip_op(",")) key->children.push_back(parse_expression(true));
      start = finish(std::move(key));
    }
    if (!ts_.is_op(":")) {
      ts_.expect_op("]");
      ExprPtr e = make(Kind::kItem, offset);
      e->children.push_back(std::move(node));
      e->children.push_back(std::move(start));
      return finish(std::move(e));
    }
  }
  ts_.advance();  // ':'
  ExprPtr stop;
  ExprPtr step;
  if (!ts_.is_op(":") && !ts_.is_op("]")) stop = parse_expression(true);
  if (ts_.skip_op(":") && !ts_.is_op("]")) step = parse_expression(true);
  ts_.expect_op("]");
  ExprPtr e = make(Kind::kSlice, offset);
  e->children.push_back(std::move(node));
  e->children.push_back(std::move(start));
  e->children.push_back(std::move(stop));
  e->children.push_back(std::move(step));
  return finish(std::move(e));
}

std::vector<Arg> ExpressionParser::parse_call_args() {
  TokenStream::Nest nest(ts_);
  ts_.expect_op("(");
  std::vector<Arg> args;
  bool seen_keyword = false;
  while (!ts_.is_op(")")) {
    if (!args.empty()) {
      ts_.expect_op(",");
      if (ts_.is_op(")")) break;
    }
    if (ts_.is_op("*") || ts_.is_op("**")) {
      ts_.fail("*args and **kwargs in calls are not supported");
    }
    Arg arg;
    if (ts_.cur().type == Token::Type::kName && ts_.is_op(ts_.look(), "=")) {
      arg.name = ts_.advance().text;
      ts_.advance();
      seen_keyword = true;
    } else if (seen_keyword) {
      ts_.fail("invalid syntax for function call expression");
    }
    arg.value = parse_expression(true);
    args.push_back(std::move(arg));
  }
  ts_.expect_op(")");
  return args;
}

ExprPtr ExpressionParser::parse_call(ExprPtr node) {
  ExprPtr e = make(Kind::kCall, ts_.cur().offset);
  e->args = parse_call_args();
  e->children.push_back(std::move(node));
  return finish(std::move(e));
}

// `| name(args) | name ...`; with `inline_first` the first filter has no leading pipe
// (the {% filter %} tag). A null `node` stands for the block's text.
ExprPtr ExpressionParser::parse_filter(ExprPtr node, bool inline_first) {
  while (ts_.is_op("|") || inline_first) {
    if (!inline_first) ts_.advance();
    inline_first = false;
    const size_t offset = ts_.cur().offset;
    std::string name = ts_.expect_name();
    while (ts_.skip_op(".")) {
      name += '.';
      name += ts_.expect_name();
    }
    ExprPtr e = make(Kind::kFilter, offset);
    e->name = std::move(name);
    if (ts_.is_op("(")) e->args = parse_call_args();
    e->children.push_back(std::move(node));
    node = finish(std::move(e));
  }
  return node;
}

ExprPtr ExpressionParser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (ts_.is_op("|")) {
      node = parse_filter(std::move(node), false);
    } else if (ts_.is_name("is")) {
      node = parse_test(std::move(node));
    } else if (ts_.is_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr ExpressionParser::parse_test(ExprPtr node) {
  ts_.advance();  // 'is'
  ExprPtr e = make(Kind::kTest, ts_.cur().offset);
  e->negated = ts_.skip_name("not");
  e->name = ts_.expect_name();
  while (ts_.skip_op(".")) {
    e->name += '.';
    e->name += ts_.expect_name();
  }
  const Token& t = ts_.cur();
  if (ts_.is_op("(")) {
    e->args = parse_call_args();
  } else if ((t.type == Token::Type::kName || t.type == Token::Type::kString ||
              t.type == Token::Type::kInt || t.type == Token::Type::kFloat || ts_.is_op("[") ||
              ts_.is_op("{")) &&
             !ts_.is_name("else") && !ts_.is_name("or") && !ts_.is_name("and")) {
    // One argument without parentheses: `x is divisibleby 3`, `x is sameas none`.
    if (ts_.is_name("is")) ts_.fail("You cannot chain multiple tests with is");
    TokenStream::Nest nest(ts_);
    e->args.push_back(Arg{"", parse_postfix(parse_primary())});
  }
  e->children.push_back(std::move(node));
  return finish(std::move(e));
}

}  // namespace llm::jinja
