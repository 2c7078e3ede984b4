// Executes a parsed template: statements write to an output buffer, expressions evaluate
// to Values. Scoping follows Jinja2: a for-loop iteration, macro call or with-block gets its
// own scope (sets inside it do not leak out); if-blocks and the top level share theirs.
// Macros see their defining scope as it is when they are called.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/budget.h"
#include "tokenizer/jinja/value.h"

namespace llm::jinja {

class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
  // Searches this scope, then the enclosing ones.
  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value) { vars_[name] = std::move(value); }
  // Binds each name to undefined ("'name' is undefined").
  void set_undefined(const std::vector<std::string>& names);

 private:
  std::shared_ptr<Scope> parent_;
  std::unordered_map<std::string, Value> vars_;
};

class Interpreter {
 public:
  // The program must outlive the interpreter.
  Interpreter(const Program& program, const Limits& limits);

  // Renders once, with `globals` as the outermost scope.
  std::string render(const MapData& globals);

  // For built-in functions and filters.
  Budget& budget() { return budget_; }
  Value call(const Value& callee, CallArgs& args);
  Value filter(std::string_view name, const Value& input, CallArgs& args);
  bool test(std::string_view name, const Value& input, CallArgs& args);
  // Runs a macro (or a call block's body, as `caller`) whose definition is `def`.
  Value call_macro(const Stmt& def, const std::string& name, const std::weak_ptr<Scope>& closure,
                   CallArgs& args);

 private:
  using ScopePtr = std::shared_ptr<Scope>;
  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec_body(const Body& body, const ScopePtr& scope);
  Flow exec(const Stmt& stmt, const ScopePtr& scope);
  Flow exec_node(const Stmt& stmt, const ScopePtr& scope);
  Flow exec_for(const Stmt& stmt, const ScopePtr& scope);
  void assign(const Target& target, Value value, Scope& scope);
  // Runs `body` into a fresh buffer; what it wrote goes to `text`. Returns the flow so that
  // break / continue inside a captured block still reach the enclosing loop, as in Jinja.
  Flow capture(const Body& body, const ScopePtr& scope, std::string* text);
  // A child scope with the names Jinja treats as not yet assigned in it (scoping.h).
  static ScopePtr enter(const ScopePtr& parent, const std::vector<std::string>& shadowed);
  Value make_macro(const Stmt& def, const std::string& name, const ScopePtr& scope);
  void write(std::string_view text);

  Value eval(const Expr& expr, const ScopePtr& scope);
  Value eval_node(const Expr& expr, const ScopePtr& scope);
  Value eval_compare(const Expr& expr, const ScopePtr& scope);
  Value eval_call(const Expr& expr, const ScopePtr& scope, Value caller);
  CallArgs eval_args(const std::vector<Arg>& args, const ScopePtr& scope);
  // A filter chain; `input` replaces the null innermost subject of a filter block's chain.
  Value eval_filter(const Expr& expr, const ScopePtr& scope, const Value* input);

  const Program& program_;
  Budget budget_;
  std::string* out_ = nullptr;
};

}  // namespace llm::jinja
