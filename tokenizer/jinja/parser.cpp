#include "tokenizer/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "tokenizer/jinja/budget.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/lexer.h"

namespace llm::jinja {
namespace {

using Kind = Expr::Kind;

std::string describe(const Token& t) {
  switch (t.type) {
    case Token::Type::kText:
      return "template data";
    case Token::Type::kVarBegin:
      return "begin of print statement";
    case Token::Type::kVarEnd:
      return "end of print statement";
    case Token::Type::kBlockBegin:
      return "begin of statement block";
    case Token::Type::kBlockEnd:
      return "end of statement block";
    case Token::Type::kEof:
      return "end of template";
    case Token::Type::kString:
      return "string";
    default:
      return t.text;
  }
}

bool references(const Expr* e, std::string_view name);

bool references(const Body& body, std::string_view name) {
  for (const StmtPtr& s : body) {
    if (references(s->expr.get(), name) || references(s->condition.get(), name) ||
        references(s->filter.get(), name) || references(s->body, name) ||
        references(s->else_body, name)) {
      return true;
    }
    for (const IfBranch& b : s->branches) {
      if (references(b.condition.get(), name) || references(b.body, name)) return true;
    }
    for (const Param& p : s->params) {
      if (references(p.default_value.get(), name)) return true;
    }
  }
  return false;
}

bool references(const Expr* e, std::string_view name) {
  if (e == nullptr) return false;
  if (e->kind == Kind::kName && e->name == name) return true;
  for (const ExprPtr& c : e->children) {
    if (references(c.get(), name)) return true;
  }
  for (const Arg& a : e->args) {
    if (references(a.value.get(), name)) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Body parse_all() {
    Body body = subparse({});
    if (cur().type != Token::Type::kEof) fail("unexpected " + describe(cur()));
    return body;
  }

 private:
  // Recursion guard: nesting of blocks and expressions bounds the parser's stack.
  class Nest {
   public:
    explicit Nest(Parser& p) : p_(p) {
      if (++p_.nesting_ > kMaxSyntaxDepth) p_.fail("template nested too deeply");
    }
    ~Nest() { --p_.nesting_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Parser& p_;
  };

  // --- token stream ---

  const Token& cur() const { return tokens_[pos_]; }
  const Token& look(size_t k = 1) const { return tokens_[std::min(pos_ + k, tokens_.size() - 1)]; }
  const Token& advance() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool is_op(std::string_view op) const { return is_op(cur(), op); }
  static bool is_op(const Token& t, std::string_view op) {
    return t.type == Token::Type::kOperator && t.text == op;
  }
  bool is_name(std::string_view name) const { return is_name(cur(), name); }
  static bool is_name(const Token& t, std::string_view name) {
    return t.type == Token::Type::kName && t.text == name;
  }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }

  [[noreturn]] void fail(const std::string& message) const { fail_at(message, cur().offset); }
  [[noreturn]] static void fail_at(const std::string& message, size_t offset) {
    throw TemplateError(TemplateError::Kind::kSyntax, message, offset);
  }

  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail("expected token '" + std::string(op) + "', got '" + describe(cur()) + "'");
  }
  std::string expect_name() {
    if (cur().type != Token::Type::kName) {
      fail("expected token 'name', got '" + describe(cur()) + "'");
    }
    return advance().text;
  }
  void expect_block_end() {
    if (cur().type != Token::Type::kBlockEnd) {
      fail("expected token 'end of statement block', got '" + describe(cur()) + "'");
    }
    advance();
  }

  // --- statements ---

  // Parses until a block tag named in `end_tags`; leaves the stream at that tag's name.
  Body subparse(std::initializer_list<std::string_view> end_tags) {
    Body body;
    while (true) {
      const Token& t = cur();
      switch (t.type) {
        case Token::Type::kText: {
          auto s = std::make_unique<Stmt>(Stmt::Kind::kText, t.offset);
          s->text = t.text;
          body.push_back(std::move(s));
          advance();
          break;
        }
        case Token::Type::kVarBegin: {
          advance();
          auto s = std::make_unique<Stmt>(Stmt::Kind::kOutput, t.offset);
          s->expr = parse_tuple(true, {}, false);
          if (cur().type != Token::Type::kVarEnd) fail("unexpected '" + describe(cur()) + "'");
          advance();
          body.push_back(std::move(s));
          break;
        }
        case Token::Type::kBlockBegin: {
          advance();
          if (cur().type == Token::Type::kName &&
              std::find(end_tags.begin(), end_tags.end(), cur().text) != end_tags.end()) {
            return body;
          }
          body.push_back(parse_statement());
          expect_block_end();
          break;
        }
        case Token::Type::kEof:
          if (end_tags.size() != 0) {
            std::string wanted;
            for (std::string_view tag : end_tags) {
              wanted += (wanted.empty() ? "'" : " or '") + std::string(tag) + "'";
            }
            fail("Unexpected end of template. Jinja was looking for the following tags: " +
                 wanted + ".");
          }
          return body;
        default:
          fail("unexpected '" + describe(t) + "'");
      }
    }
  }

  // After the header of a block statement: its body up to one of `end_tags`.
  Body parse_block(std::initializer_list<std::string_view> end_tags, bool drop_end) {
    Nest nest(*this);
    expect_block_end();
    Body body = subparse(end_tags);
    if (drop_end) advance();
    return body;
  }

  StmtPtr parse_statement() {
    Nest nest(*this);
    const Token& t = cur();
    if (t.type != Token::Type::kName) fail("tag name expected");
    const std::string tag = t.text;
    const size_t offset = t.offset;
    advance();
    if (tag == "if") return parse_if(offset);
    if (tag == "for") return parse_for(offset);
    if (tag == "set") return parse_set(offset);
    if (tag == "macro") return parse_macro(offset);
    if (tag == "call") return parse_call_block(offset);
    if (tag == "filter") {
      auto s = std::make_unique<Stmt>(Stmt::Kind::kFilterBlock, offset);
      s->filter = parse_filter(nullptr, true);
      s->body = parse_block({"endfilter"}, true);
      return s;
    }
    if (tag == "with") return parse_with(offset);
    if (tag == "generation") {
      auto s = std::make_unique<Stmt>(Stmt::Kind::kScope, offset);
      s->body = parse_block({"endgeneration"}, true);
      return s;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail_at("'" + tag + "' outside loop", offset);
      return std::make_unique<Stmt>(tag == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue,
                                    offset);
    }
    if (tag == "extends" || tag == "include" || tag == "import" || tag == "from" ||
        tag == "block") {
      fail_at("tag '" + tag + "' is not supported: chat templates cannot load other templates",
              offset);
    }
    fail_at("Encountered unknown tag '" + tag + "'.", offset);
  }

  StmtPtr parse_if(size_t offset) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kIf, offset);
    ExprPtr condition = parse_tuple(false, {}, false);
    while (true) {
      Body body = parse_block({"elif", "else", "endif"}, false);
      s->branches.push_back(IfBranch{std::move(condition), std::move(body)});
      const std::string tag = advance().text;
      if (tag == "elif") {
        condition = parse_tuple(false, {}, false);
      } else if (tag == "else") {
        s->branches.push_back(IfBranch{nullptr, parse_block({"endif"}, true)});
        return s;
      } else {
        return s;
      }
    }
  }

  StmtPtr parse_for(size_t offset) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kFor, offset);
    s->target = parse_target(false, "in");
    if (!skip_name("in")) fail("expected token 'in', got '" + describe(cur()) + "'");
    s->expr = parse_tuple(false, {"recursive"}, false);
    if (skip_name("if")) s->condition = parse_expression(true);
    if (is_name("recursive")) fail("recursive for loops are not supported");
    ++loop_depth_;
    s->body = parse_block({"endfor", "else"}, false);
    --loop_depth_;
    if (advance().text == "else") s->else_body = parse_block({"endfor"}, true);
    return s;
  }

  StmtPtr parse_set(size_t offset) {
    Target target = parse_target(true, "=");
    if (skip_op("=")) {
      auto s = std::make_unique<Stmt>(Stmt::Kind::kSet, offset);
      s->target = std::move(target);
      s->expr = parse_tuple(true, {}, false);
      return s;
    }
    auto s = std::make_unique<Stmt>(Stmt::Kind::kSetBlock, offset);
    s->target = std::move(target);
    if (s->target.unpack) fail("a block set assigns one name");
    if (is_op("|")) s->filter = parse_filter(nullptr, false);
    s->body = parse_block({"endset"}, true);
    return s;
  }

  // `name`, `a, b`, `(a, b)`, or with `allow_attr` `ns.attr`.
  Target parse_target(bool allow_attr, std::string_view end) {
    Target target;
    if (allow_attr && cur().type == Token::Type::kName && is_op(look(), ".")) {
      target.names.push_back(advance().text);
      advance();
      target.attr = expect_name();
      return target;
    }
    const bool parens = skip_op("(");
    while (true) {
      target.names.push_back(expect_name());
      if (!skip_op(",")) break;
      target.unpack = true;
      if (parens ? is_op(")") : (is_name(end) || is_op(end))) break;
    }
    if (parens) {
      expect_op(")");
      target.unpack = true;
    }
    for (const std::string& name : target.names) {
      if (name == "true" || name == "false" || name == "none" || name == "True" ||
          name == "False" || name == "None") {
        fail("can't assign to '" + name + "'");
      }
    }
    return target;
  }

  std::vector<Param> parse_signature() {
    std::vector<Param> params;
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      Param p;
      p.name = expect_name();
      if (skip_op("=")) {
        p.default_value = parse_expression(true);
      } else if (!params.empty() && params.back().default_value) {
        fail("non-default argument follows default argument");
      }
      params.push_back(std::move(p));
    }
    expect_op(")");
    return params;
  }

  void parse_callable_body(Stmt& s, std::string_view end_tag) {
    const int saved = loop_depth_;
    loop_depth_ = 0;  // a macro body is not inside the caller's loop
    s.body = parse_block({end_tag}, true);
    loop_depth_ = saved;
    s.uses_varargs = references(s.body, "varargs");
    s.uses_kwargs = references(s.body, "kwargs");
    s.uses_caller = references(s.body, "caller");
  }

  StmtPtr parse_macro(size_t offset) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kMacro, offset);
    s->name = expect_name();
    s->params = parse_signature();
    parse_callable_body(*s, "endmacro");
    return s;
  }

  StmtPtr parse_call_block(size_t offset) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kCallBlock, offset);
    if (is_op("(")) s->params = parse_signature();
    s->expr = parse_expression(true);
    if (s->expr->kind != Kind::kCall) fail_at("expected call", s->expr->offset);
    parse_callable_body(*s, "endcall");
    return s;
  }

  StmtPtr parse_with(size_t offset) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kWith, offset);
    while (cur().type != Token::Type::kBlockEnd) {
      if (!s->params.empty()) expect_op(",");
      Param p;
      p.name = expect_name();
      expect_op("=");
      p.default_value = parse_expression(true);
      s->params.push_back(std::move(p));
    }
    s->body = parse_block({"endwith"}, true);
    return s;
  }

  // --- expressions ---

  ExprPtr make(Kind kind, size_t offset) { return std::make_unique<Expr>(kind, offset); }

  // Sets the subtree height; a tree taller than kMaxSyntaxDepth would make evaluation and
  // destruction recurse too deep, so it is a syntax error.
  ExprPtr finish(ExprPtr e) {
    int depth = 0;
    for (const ExprPtr& c : e->children) {
      if (c) depth = std::max(depth, c->depth);
    }
    for (const Arg& a : e->args) depth = std::max(depth, a.value->depth);
    e->depth = depth + 1;
    if (e->depth > kMaxSyntaxDepth) fail_at("expression nested too deeply", e->offset);
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

  bool at_tuple_end(std::initializer_list<std::string_view> extra_end) const {
    const Token& t = cur();
    if (t.type == Token::Type::kVarEnd || t.type == Token::Type::kBlockEnd || is_op(t, ")")) {
      return true;
    }
    for (std::string_view name : extra_end) {
      if (is_name(t, name)) return true;
    }
    return false;
  }

  // Comma-separated expressions: a tuple when there is a comma, else the one expression.
  ExprPtr parse_tuple(bool with_condexpr, std::initializer_list<std::string_view> extra_end,
                      bool explicit_parens) {
    const size_t offset = cur().offset;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (at_tuple_end(extra_end)) break;
      items.push_back(parse_expression(with_condexpr));
      if (!is_op(",")) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items.front());
      if (!explicit_parens) fail("Expected an expression, got '" + describe(cur()) + "'");
    }
    ExprPtr e = make(Kind::kTuple, offset);
    e->children = std::move(items);
    return finish(std::move(e));
  }

  ExprPtr parse_expression(bool with_condexpr) {
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    Nest nest(*this);
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      const size_t offset = advance().offset;
      ExprPtr condition = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_condexpr() : nullptr;
      ExprPtr e = make(Kind::kCondition, offset);
      e->children.push_back(std::move(expr));
      e->children.push_back(std::move(condition));
      e->children.push_back(std::move(otherwise));
      expr = finish(std::move(e));
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const size_t offset = advance().offset;
      left = binary(Kind::kOr, offset, "or", std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const size_t offset = advance().offset;
      left = binary(Kind::kAnd, offset, "and", std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      Nest nest(*this);
      const size_t offset = advance().offset;
      return unary(Kind::kNot, offset, parse_not());
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const size_t offset = cur().offset;
    ExprPtr first = parse_math1();
    ExprPtr e;
    while (true) {
      std::string op;
      const Token& t = cur();
      if (t.type == Token::Type::kOperator &&
          (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" ||
           t.text == ">=")) {
        op = t.text;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && is_name(look(), "in")) {
        op = "not in";
        advance();
        advance();
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

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = advance();
      left = binary(Kind::kBinary, t.offset, t.text, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    ExprPtr e = make(Kind::kConcat, cur().offset);
    e->children.push_back(std::move(first));
    while (skip_op("~")) e->children.push_back(parse_math2());
    return finish(std::move(e));
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = advance();
      left = binary(Kind::kBinary, t.offset, t.text, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const Token& t = advance();
      left = binary(Kind::kBinary, t.offset, t.text, std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    Nest nest(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& t = advance();
      node = unary(t.text == "-" ? Kind::kNeg : Kind::kPos, t.offset, parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
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
        advance();
        return e;
      }
      case Token::Type::kString: {
        std::string text;
        while (cur().type == Token::Type::kString) text += advance().text;  // "a" "b" == "ab"
        ExprPtr e = make(Kind::kLiteral, offset);
        e->literal = Value::string(std::move(text));
        return e;
      }
      case Token::Type::kInt:
      case Token::Type::kFloat: {
        ExprPtr e = make(Kind::kLiteral, offset);
        e->literal = t.type == Token::Type::kInt ? Value::integer(t.int_value)
                                                 : Value::number(t.float_value);
        advance();
        return e;
      }
      default:
        break;
    }
    if (skip_op("(")) {
      ExprPtr e = parse_tuple(true, {}, true);
      expect_op(")");
      return e;
    }
    if (skip_op("[")) {
      ExprPtr e = make(Kind::kList, offset);
      while (!is_op("]")) {
        if (!e->children.empty()) expect_op(",");
        if (is_op("]")) break;
        e->children.push_back(parse_expression(true));
      }
      expect_op("]");
      return finish(std::move(e));
    }
    if (skip_op("{")) {
      ExprPtr e = make(Kind::kDict, offset);
      while (!is_op("}")) {
        if (!e->children.empty()) expect_op(",");
        if (is_op("}")) break;
        e->children.push_back(parse_expression(true));
        expect_op(":");
        e->children.push_back(parse_expression(true));
      }
      expect_op("}");
      return finish(std::move(e));
    }
    fail("unexpected '" + describe(t) + "'");
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        advance();
        const Token& t = cur();
        if (t.type == Token::Type::kName) {
          ExprPtr e = make(Kind::kAttr, t.offset);
          e->name = t.text;
          e->children.push_back(std::move(node));
          advance();
          node = finish(std::move(e));
        } else if (t.type == Token::Type::kInt) {
          ExprPtr key = make(Kind::kLiteral, t.offset);
          key->literal = Value::integer(t.int_value);
          ExprPtr e = make(Kind::kItem, t.offset);
          e->children.push_back(std::move(node));
          e->children.push_back(std::move(key));
          advance();
          node = finish(std::move(e));
        } else {
          fail("expected name or number");
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const size_t offset = advance().offset;  // '['
    Nest nest(*this);
    ExprPtr start;
    if (!is_op(":")) {
      start = parse_expression(true);
      if (is_op(",")) {  // x[a, b]: a tuple key (no mapping here has one; it yields undefined)
        ExprPtr key = make(Kind::kTuple, start->offset);
        key->children.push_back(std::move(start));
        while (skip_op(",")) key->children.push_back(parse_expression(true));
        start = finish(std::move(key));
      }
      if (!is_op(":")) {
        expect_op("]");
        ExprPtr e = make(Kind::kItem, offset);
        e->children.push_back(std::move(node));
        e->children.push_back(std::move(start));
        return finish(std::move(e));
      }
    }
    advance();  // ':'
    ExprPtr stop;
    ExprPtr step;
    if (!is_op(":") && !is_op("]")) stop = parse_expression(true);
    if (skip_op(":") && !is_op("]")) step = parse_expression(true);
    expect_op("]");
    ExprPtr e = make(Kind::kSlice, offset);
    e->children.push_back(std::move(node));
    e->children.push_back(std::move(start));
    e->children.push_back(std::move(stop));
    e->children.push_back(std::move(step));
    return finish(std::move(e));
  }

  std::vector<Arg> parse_call_args() {
    Nest nest(*this);
    expect_op("(");
    std::vector<Arg> args;
    bool seen_keyword = false;
    while (!is_op(")")) {
      if (!args.empty()) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported");
      Arg arg;
      if (cur().type == Token::Type::kName && is_op(look(), "=")) {
        arg.name = advance().text;
        advance();
        seen_keyword = true;
      } else if (seen_keyword) {
        fail("invalid syntax for function call expression");
      }
      arg.value = parse_expression(true);
      args.push_back(std::move(arg));
    }
    expect_op(")");
    return args;
  }

  ExprPtr parse_call(ExprPtr node) {
    ExprPtr e = make(Kind::kCall, cur().offset);
    e->args = parse_call_args();
    e->children.push_back(std::move(node));
    return finish(std::move(e));
  }

  // `| name(args) | name ...`; with `inline_first` the first filter has no leading pipe
  // (the {% filter %} tag). A null `node` stands for the block's text.
  ExprPtr parse_filter(ExprPtr node, bool inline_first) {
    while (is_op("|") || inline_first) {
      if (!inline_first) advance();
      inline_first = false;
      const size_t offset = cur().offset;
      std::string name = expect_name();
      while (skip_op(".")) {
        name += '.';
        name += expect_name();
      }
      ExprPtr e = make(Kind::kFilter, offset);
      e->name = std::move(name);
      if (is_op("(")) e->args = parse_call_args();
      e->children.push_back(std::move(node));
      node = finish(std::move(e));
    }
    return node;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        node = parse_filter(std::move(node), false);
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_test(ExprPtr node) {
    advance();  // 'is'
    ExprPtr e = make(Kind::kTest, cur().offset);
    e->negated = skip_name("not");
    e->name = expect_name();
    while (skip_op(".")) {
      e->name += '.';
      e->name += expect_name();
    }
    const Token& t = cur();
    if (is_op("(")) {
      e->args = parse_call_args();
    } else if ((t.type == Token::Type::kName || t.type == Token::Type::kString ||
                t.type == Token::Type::kInt || t.type == Token::Type::kFloat || is_op("[") ||
                is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      // One argument without parentheses: `x is divisibleby 3`, `x is sameas none`.
      if (is_name("is")) fail("You cannot chain multiple tests with is");
      Nest nest(*this);
      e->args.push_back(Arg{"", parse_postfix(parse_primary())});
    }
    e->children.push_back(std::move(node));
    return finish(std::move(e));
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int nesting_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Program parse_template(std::string source) {
  Program program;
  program.source = std::move(source);
  program.body = Parser(tokenize(program.source)).parse_all();
  return program;
}

}  // namespace llm::jinja
