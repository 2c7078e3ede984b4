#include "tokenizer/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/expression_parser.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/scoping.h"
#include "tokenizer/jinja/token_stream.h"

namespace llm::jinja {
namespace {

// Whether `name` is used anywhere in `body`: Jinja gives a macro varargs, kwargs and caller
// only when its body mentions them.
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
  if (e->kind == Expr::Kind::kName && e->name == name) return true;
  for (const ExprPtr& c : e->children) {
    if (references(c.get(), name)) return true;
  }
  for (const Arg& a : e->args) {
    if (references(a.value.get(), name)) return true;
  }
  return false;
}

// The statement level: text, {{ }} and the {% %} tags, each block up to its end tag.
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : ts_(std::move(tokens)), expr_(ts_) {}

  Body parse_all() {
    Body body = subparse({});
    if (ts_.cur().type != Token::Type::kEof) ts_.fail("unexpected " + ts_.describe(ts_.cur()));
    return body;
  }

 private:
  // Parses until a block tag named in `end_tags`; leaves the stream at that tag's name.
  Body subparse(std::initializer_list<std::string_view> end_tags) {
    Body body;
    while (true) {
      const Token& t = ts_.cur();
      switch (t.type) {
        case Token::Type::kText: {
          auto s = std::make_unique<Stmt>(Stmt::Kind::kText, t.offset);
          s->text = t.text;
          body.push_back(std::move(s));
          ts_.advance();
          break;
        }
        case Token::Type::kVarBegin: {
          ts_.advance();
          auto s = std::make_unique<Stmt>(Stmt::Kind::kOutput, t.offset);
          s->expr = expr_.parse_tuple(true, {}, false);
          if (ts_.cur().type != Token::Type::kVarEnd) {
            ts_.fail("unexpected '" + ts_.describe(ts_.cur()) + "'");
          }
          ts_.advance();
          body.push_back(std::move(s));
          break;
        }
        case Token::Type::kBlockBegin: {
          ts_.advance();
          if (ts_.cur().type == Token::Type::kName &&
              std::find(end_tags.begin(), end_tags.end(), ts_.cur().text) != end_tags.end()) {
            return body;
          }
          body.push_back(parse_statement());
          ts_.expect_block_end();
          break;
        }
        case Token::Type::kEof:
          if (end_tags.size() != 0) {
            std::string wanted;
            for (std::string_view tag : end_tags) {
              wanted += (wanted.empty() ? "'" : " or '") + std::string(tag) + "'";
            }
            ts_.fail("Unexpected end of template. Jinja was looking for the following tags: " +
                     wanted + ".");
          }
          return body;
        default:
          ts_.fail("unexpected '" + ts_.describe(t) + "'");
      }
    }
  }

  // After the header of a block statement: its body up to one of `end_tags`.
  Body parse_block(std::initializer_list<std::string_view> end_tags, bool drop_end) {
    TokenStream::Nest nest(ts_);
    ts_.expect_block_end();
    Body body = subparse(end_tags);
    if (drop_end) ts_.advance();
    return body;
  }

  StmtPtr parse_statement() {
    TokenStream::Nest nest(ts_);
    const Token& t = ts_.cur();
    if (t.type != Token::Type::kName) ts_.fail("tag name expected");
    const std::string tag = t.text;
    const size_t offset = t.offset;
    ts_.advance();
    if (tag == "if") return parse_if(offset);
    if (tag == "for") return parse_for(offset);
    if (tag == "set") return parse_set(offset);
    if (tag == "macro") return parse_macro(offset);
    if (tag == "call") return parse_call_block(offset);
    if (tag == "filter") {
      auto s = std::make_unique<Stmt>(Stmt::Kind::kFilterBlock, offset);
      s->filter = expr_.parse_filter(nullptr, true);
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
      if (loop_depth_ == 0) ts_.fail_at("'" + tag + "' outside loop", offset);
      return std::make_unique<Stmt>(tag == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue,
                                    offset);
    }
    if (tag == "extends" || tag == "include" || tag == "import" || tag == "from" ||
        tag == "block") {
      ts_.fail_at("tag '" + tag + "' is not supported: chat templates cannot load other templates",
                  offset);
    }
    ts_.fail_at("Encountered unknown tag '" + tag + "'.", offset);
  }

  StmtPtr parse_if(size_t offset) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kIf, offset);
    ExprPtr condition = expr_.parse_tuple(false, {}, false);
    while (true) {
      Body body = parse_block({"elif", "else", "endif"}, false);
      s->branches.push_back(IfBranch{std::move(condition), std::move(body)});
      const std::string tag = ts_.advance().text;
      if (tag == "elif") {
        condition = expr_.parse_tuple(false, {}, false);
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
    if (!ts_.skip_name("in")) {
      ts_.fail("expected token 'in', got '" + ts_.describe(ts_.cur()) + "'");
    }
    s->expr = expr_.parse_tuple(false, {"recursive"}, false);
    if (ts_.skip_name("if")) s->condition = expr_.parse_expression(true);
    if (ts_.is_name("recursive")) ts_.fail("recursive for loops are not supported");
    ++loop_depth_;
    s->body = parse_block({"endfor", "else"}, false);
    --loop_depth_;
    if (ts_.advance().text == "else") s->else_body = parse_block({"endfor"}, true);
    return s;
  }

  StmtPtr parse_set(size_t offset) {
    Target target = parse_target(true, "=");
    if (ts_.skip_op("=")) {
      auto s = std::make_unique<Stmt>(Stmt::Kind::kSet, offset);
      s->target = std::move(target);
      s->expr = expr_.parse_tuple(true, {}, false);
      return s;
    }
    auto s = std::make_unique<Stmt>(Stmt::Kind::kSetBlock, offset);
    s->target = std::move(target);
    if (s->target.unpack) ts_.fail("a block set assigns one name");
    if (ts_.is_op("|")) s->filter = expr_.parse_filter(nullptr, false);
    s->body = parse_block({"endset"}, true);
    return s;
  }

  // `name`, `a, b`, `(a, b)`, or with `allow_attr` `ns.attr`.
  Target parse_target(bool allow_attr, std::string_view end) {
    Target target;
    if (allow_attr && ts_.cur().type == Token::Type::kName && ts_.is_op(ts_.look(), ".")) {
      target.names.push_back(ts_.advance().text);
      ts_.advance();
      target.attr = ts_.expect_name();
      return target;
    }
    const bool parens = ts_.skip_op("(");
    while (true) {
      target.names.push_back(ts_.expect_name());
      if (!ts_.skip_op(",")) break;
      target.unpack = true;
      if (parens ? ts_.is_op(")") : (ts_.is_name(end) || ts_.is_op(end))) break;
    }
    if (parens) {
      ts_.expect_op(")");
      target.unpack = true;
    }
    for (const std::string& name : target.names) {
      if (name == "true" || name == "false" || name == "none" || name == "True" ||
          name == "False" || name == "None") {
        ts_.fail("can't assign to '" + name + "'");
      }
    }
    return target;
  }

  std::vector<Param> parse_signature() {
    std::vector<Param> params;
    ts_.expect_op("(");
    while (!ts_.is_op(")")) {
      if (!params.empty()) ts_.expect_op(",");
      if (ts_.is_op(")")) break;
      Param p;
      p.name = ts_.expect_name();
      if (ts_.skip_op("=")) {
        p.default_value = expr_.parse_expression(true);
      } else if (!params.empty() && params.back().default_value) {
        ts_.fail("non-default argument follows default argument");
      }
      params.push_back(std::move(p));
    }
    ts_.expect_op(")");
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
    s->name = ts_.expect_name();
    s->params = parse_signature();
    parse_callable_body(*s, "endmacro");
    return s;
  }

  StmtPtr parse_call_block(size_t offset) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kCallBlock, offset);
    if (ts_.is_op("(")) s->params = parse_signature();
    s->expr = expr_.parse_expression(true);
    if (s->expr->kind != Expr::Kind::kCall) ts_.fail_at("expected call", s->expr->offset);
    parse_callable_body(*s, "endcall");
    return s;
  }

  StmtPtr parse_with(size_t offset) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kWith, offset);
    while (ts_.cur().type != Token::Type::kBlockEnd) {
      if (!s->params.empty()) ts_.expect_op(",");
      Param p;
      p.name = ts_.expect_name();
      ts_.expect_op("=");
      p.default_value = expr_.parse_expression(true);
      s->params.push_back(std::move(p));
    }
    s->body = parse_block({"endwith"}, true);
    return s;
  }

  TokenStream ts_;
  ExpressionParser expr_;
  int loop_depth_ = 0;  // enclosing for-loops, for break / continue
};

}  // namespace

Program parse_template(std::string source) {
  Program program;
  program.source = std::move(source);
  program.body = Parser(tokenize(program.source)).parse_all();
  resolve_scopes(program);
  return program;
}

}  // namespace llm::jinja
