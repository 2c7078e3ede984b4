#include "tokenizer/jinja/interpreter.h"

#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/filters.h"
#include "tokenizer/jinja/format.h"
#include "tokenizer/jinja/operators.h"

namespace llm::jinja {
namespace {

using EKind = Expr::Kind;
using SKind = Stmt::Kind;

// Restores the output buffer when a capture ends, also by exception.
class OutputSwap {
 public:
  OutputSwap(std::string*& slot, std::string* buffer) : slot_(slot), saved_(slot) {
    slot_ = buffer;
  }
  ~OutputSwap() { slot_ = saved_; }
  OutputSwap(const OutputSwap&) = delete;
  OutputSwap& operator=(const OutputSwap&) = delete;

 private:
  std::string*& slot_;
  std::string* saved_;
};

// The `loop` object of one iteration. `cycle` is shared by the iterations of a loop and
// reads the current index from `position`.
Value loop_info(const std::vector<Value>& items, size_t i, const Value& cycle) {
  const auto n = static_cast<int64_t>(items.size());
  const auto k = static_cast<int64_t>(i);
  MapData loop;
  loop.set("index", Value::integer(k + 1));
  loop.set("index0", Value::integer(k));
  loop.set("revindex", Value::integer(n - k));
  loop.set("revindex0", Value::integer(n - k - 1));
  loop.set("first", Value::boolean(k == 0));
  loop.set("last", Value::boolean(k == n - 1));
  loop.set("length", Value::integer(n));
  loop.set("depth", Value::integer(1));
  loop.set("depth0", Value::integer(0));
  if (i > 0) loop.set("previtem", items[i - 1]);
  if (i + 1 < items.size()) loop.set("nextitem", items[i + 1]);
  loop.set("cycle", cycle);
  return Value::map(std::move(loop));
}

Value make_cycle(std::shared_ptr<const size_t> position) {
  Callable::Fn cycle = [position](Interpreter&, CallArgs& args) {
    if (args.positional.empty()) throw_runtime("no items for cycling given");
    return args.positional[*position % args.positional.size()];
  };
  return Value::callable(
      std::make_shared<const Callable>(Callable{"loop.cycle", std::move(cycle), 0}));
}

}  // namespace

const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_.get()) {
    const auto it = s->vars_.find(name);
    if (it != s->vars_.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::Interpreter(const Program& program, const Limits& limits)
    : program_(program), budget_(limits) {}

void Scope::set_undefined(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    set(name, Value::undefined(repr_string(name) + " is undefined"));
  }
}

Interpreter::ScopePtr Interpreter::enter(const ScopePtr& parent,
                                         const std::vector<std::string>& shadowed) {
  auto scope = std::make_shared<Scope>(parent);
  scope->set_undefined(shadowed);
  return scope;
}

std::string Interpreter::render(const MapData& globals) {
  auto root = std::make_shared<Scope>(nullptr);
  for (const auto& [name, value] : globals.entries()) root->set(name, value);
  root->set_undefined(program_.shadowed);
  std::string out;
  OutputSwap swap(out_, &out);
  exec_body(program_.body, root);
  return out;
}

void Interpreter::write(std::string_view text) {
  const size_t size = out_->size() + text.size();
  if (size > budget_.limits().max_output_bytes) budget_.text(size);
  budget_.step(text.size() / 64);
  out_->append(text);
}

Interpreter::Flow Interpreter::capture(const Body& body, const ScopePtr& scope, std::string* text) {
  OutputSwap swap(out_, text);
  return exec_body(body, scope);
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const ScopePtr& scope) {
  for (const StmtPtr& stmt : body) {
    const Flow flow = exec(*stmt, scope);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, const ScopePtr& scope) {
  Budget::DepthGuard guard(budget_);
  budget_.step();
  try {
    return exec_node(stmt, scope);
  } catch (TemplateError& e) {
    if (!e.has_offset()) e.set_offset(stmt.offset);
    throw;
  }
}

Interpreter::Flow Interpreter::exec_node(const Stmt& s, const ScopePtr& scope) {
  switch (s.kind) {
    case SKind::kText:
      write(s.text);
      return Flow::kNormal;
    case SKind::kOutput: {
      const Value v = eval(*s.expr, scope);
      if (v.is_string()) {
        write(v.as_string());
      } else {
        write(to_str(v, budget_));
      }
      return Flow::kNormal;
    }
    case SKind::kIf:
      for (const IfBranch& branch : s.branches) {
        if (!branch.condition || truthy(eval(*branch.condition, scope))) {
          return exec_body(branch.body, scope);
        }
      }
      return Flow::kNormal;
    case SKind::kFor:
      return exec_for(s, scope);
    case SKind::kSet:
      assign(s.target, eval(*s.expr, scope), *scope);
      return Flow::kNormal;
    case SKind::kSetBlock: {
      std::string text;
      const Flow flow = capture(s.body, enter(scope, s.shadowed), &text);
      if (flow != Flow::kNormal) return flow;
      Value v = Value::string(std::move(text));
      if (s.filter) v = eval_filter(*s.filter, scope, &v);
      assign(s.target, std::move(v), *scope);
      return Flow::kNormal;
    }
    case SKind::kMacro:
      scope->set(s.name, make_macro(s, s.name, scope));
      return Flow::kNormal;
    case SKind::kCallBlock:
      write(to_str(eval_call(*s.expr, scope, make_macro(s, "caller", scope)), budget_));
      return Flow::kNormal;
    case SKind::kFilterBlock: {
      std::string text;
      const Flow flow = capture(s.body, enter(scope, s.shadowed), &text);
      if (flow != Flow::kNormal) return flow;
      const Value input = Value::string(std::move(text));
      const Value result = eval_filter(*s.filter, scope, &input);
      // Jinja joins the block's result into the output without str(): it must be a string.
      if (!result.is_string()) {
        throw_runtime(std::string("sequence item 0: expected str instance, ") + result.type_name() +
                      " found");
      }
      write(result.as_string());
      return Flow::kNormal;
    }
    case SKind::kWith: {
      auto inner = enter(scope, s.shadowed);
      // All values are evaluated in the enclosing scope, as Jinja does.
      for (const Param& p : s.params) inner->set(p.name, eval(*p.default_value, scope));
      return exec_body(s.body, inner);
    }
    case SKind::kScope:
      return exec_body(s.body, enter(scope, s.shadowed));
    case SKind::kBreak:
      return Flow::kBreak;
    case SKind::kContinue:
      return Flow::kContinue;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const ScopePtr& scope) {
  std::vector<Value> items = iterate(eval(*s.expr, scope), budget_);
  if (s.condition) {
    std::vector<Value> kept;
    for (Value& item : items) {
      budget_.iteration();
      auto inner = std::make_shared<Scope>(scope);
      assign(s.target, item, *inner);
      if (truthy(eval(*s.condition, inner))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  auto position = std::make_shared<size_t>(0);
  const Value cycle = make_cycle(position);
  // Jinja runs the else block unless an iteration ran to its end: an empty loop, but also
  // one whose iterations all ended in break or continue.
  bool completed = false;
  for (size_t i = 0; i < items.size(); ++i) {
    budget_.iteration();
    *position = i;
    // A fresh scope per iteration: what the body sets does not reach the next one.
    auto inner = enter(scope, s.shadowed);
    inner->set("loop", loop_info(items, i, cycle));
    assign(s.target, items[i], *inner);
    const Flow flow = exec_body(s.body, inner);
    if (flow == Flow::kNormal) completed = true;
    if (flow == Flow::kBreak) break;
  }
  if (!completed && !s.else_body.empty()) exec_body(s.else_body, enter(scope, s.else_shadowed));
  return Flow::kNormal;
}

void Interpreter::assign(const Target& target, Value value, Scope& scope) {
  if (!target.attr.empty()) {
    const Value* ns = scope.find(target.names[0]);
    if (ns == nullptr || !ns->is_namespace()) {
      throw_runtime("cannot assign attribute on non-namespace object");
    }
    ns->as_namespace().set(target.attr, std::move(value));
    return;
  }
  if (!target.unpack) {
    scope.set(target.names[0], std::move(value));
    return;
  }
  if (!value.is_list() && !value.is_string() && !value.is_map()) {
    throw_runtime(std::string("cannot unpack non-iterable ") + value.type_name() + " object");
  }
  const std::vector<Value> parts = iterate(value, budget_);
  const size_t n = target.names.size();
  if (parts.size() > n) {
    throw_runtime("too many values to unpack (expected " + std::to_string(n) + ")");
  }
  if (parts.size() < n) {
    throw_runtime("not enough values to unpack (expected " + std::to_string(n) + ", got " +
                  std::to_string(parts.size()) + ")");
  }
  for (size_t i = 0; i < n; ++i) scope.set(target.names[i], parts[i]);
}

Value Interpreter::make_macro(const Stmt& def, const std::string& name, const ScopePtr& scope) {
  // A weak reference: the macro is stored in the scope it closes over.
  std::weak_ptr<Scope> closure = scope;
  const Stmt* definition = &def;
  Callable::Fn fn = [definition, name, closure](Interpreter& in, CallArgs& args) {
    return in.call_macro(*definition, name, closure, args);
  };
  return Value::callable(std::make_shared<const Callable>(Callable{name, std::move(fn), 0}));
}

Value Interpreter::call_macro(const Stmt& def, const std::string& name,
                              const std::weak_ptr<Scope>& closure, CallArgs& args) {
  ScopePtr parent = closure.lock();
  if (!parent) throw_runtime("macro '" + name + "' called outside the scope that defined it");
  auto scope = enter(parent, def.shadowed);
  const std::vector<Param>& params = def.params;
  if (args.positional.size() > params.size() && !def.uses_varargs) {
    throw_runtime("macro '" + name + "' takes not more than " + std::to_string(params.size()) +
                  " argument(s)");
  }
  std::vector<bool> bound(params.size(), false);
  if (def.uses_caller) scope->set("caller", Value::undefined("No caller defined"));
  for (size_t i = 0; i < params.size() && i < args.positional.size(); ++i) {
    scope->set(params[i].name, args.positional[i]);
    bound[i] = true;
  }
  MapData extra_keywords;
  for (auto& [key, value] : args.keyword) {
    size_t j = 0;
    while (j < params.size() && params[j].name != key) ++j;
    if (j < params.size()) {
      if (bound[j]) {
        throw_runtime("macro '" + name + "' got multiple values for argument '" + key + "'");
      }
      scope->set(key, value);
      bound[j] = true;
    } else if (key == "caller") {
      if (!def.uses_caller) {
        throw_runtime("macro '" + name +
                      "' was invoked with two values for the special caller argument. This is "
                      "most likely a bug.");
      }
      scope->set("caller", value);
    } else if (def.uses_kwargs) {
      extra_keywords.set(key, value);
    } else {
      throw_runtime("macro '" + name + "' takes no keyword argument '" + key + "'");
    }
  }
  // Defaults are evaluated at call time, in the macro's scope (they may use earlier params).
  for (size_t i = 0; i < params.size(); ++i) {
    if (bound[i]) continue;
    scope->set(params[i].name, params[i].default_value
                                   ? eval(*params[i].default_value, scope)
                                   : Value::undefined("parameter " + repr_string(params[i].name) +
                                                      " was not provided"));
  }
  std::vector<Value> extra_positional;
  for (size_t i = params.size(); i < args.positional.size(); ++i) {
    extra_positional.push_back(args.positional[i]);
  }
  scope->set("varargs", Value::list(std::move(extra_positional), true));
  scope->set("kwargs", Value::map(std::move(extra_keywords)));
  std::string text;
  capture(def.body, scope, &text);  // the parser rejects break / continue in macro bodies
  return Value::string(std::move(text));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  require_defined(callee);
  if (!callee.is_callable()) {
    throw_runtime(std::string("'") + callee.type_name() + "' object is not callable");
  }
  budget_.step();
  return callee.as_callable().fn(*this, args);
}

Value Interpreter::filter(std::string_view name, const Value& input, CallArgs& args) {
  const FilterFn fn = find_filter(name);
  if (fn == nullptr) throw_runtime("No filter named '" + std::string(name) + "'.");
  return fn(*this, input, args);
}

bool Interpreter::test(std::string_view name, const Value& input, CallArgs& args) {
  const TestFn fn = find_test(name);
  if (fn == nullptr) throw_runtime("No test named '" + std::string(name) + "'.");
  return fn(*this, input, args);
}

Value Interpreter::eval(const Expr& expr, const ScopePtr& scope) {
  Budget::DepthGuard guard(budget_);
  budget_.step();
  try {
    return eval_node(expr, scope);
  } catch (TemplateError& e) {
    if (!e.has_offset()) e.set_offset(expr.offset);
    throw;
  }
}

CallArgs Interpreter::eval_args(const std::vector<Arg>& args, const ScopePtr& scope) {
  CallArgs out;
  for (const Arg& arg : args) {
    if (arg.name.empty()) {
      out.positional.push_back(eval(*arg.value, scope));
    } else {
      out.keyword.emplace_back(arg.name, eval(*arg.value, scope));
    }
  }
  return out;
}

Value Interpreter::eval_call(const Expr& e, const ScopePtr& scope, Value caller) {
  const Value callee = eval(*e.children[0], scope);
  CallArgs args = eval_args(e.args, scope);
  if (!caller.is_undefined()) args.keyword.emplace_back("caller", std::move(caller));
  return call(callee, args);
}

Value Interpreter::eval_filter(const Expr& e, const ScopePtr& scope, const Value* input) {
  const Expr* child = e.children[0].get();
  Value subject;
  if (child == nullptr) {
    subject = *input;
  } else if (input != nullptr && child->kind == EKind::kFilter) {
    subject = eval_filter(*child, scope, input);
  } else {
    subject = eval(*child, scope);
  }
  CallArgs args = eval_args(e.args, scope);
  return filter(e.name, subject, args);
}

Value Interpreter::eval_compare(const Expr& e, const ScopePtr& scope) {
  Value left = eval(*e.children[0], scope);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.children[i + 1], scope);
    const std::string& op = e.ops[i];
    bool ok;
    if (op == "==" || op == "!=") {
      ok = equals(left, right, budget_) == (op == "==");
    } else if (op == "in" || op == "not in") {
      ok = contains(right, left, budget_) == (op == "in");
    } else {
      const std::partial_ordering c = compare(left, right, budget_);
      ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
    }
    if (!ok) return Value::boolean(false);  // chained comparisons stop at the first false
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value Interpreter::eval_node(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case EKind::kLiteral:
      return e.literal;
    case EKind::kName: {
      const Value* v = scope->find(e.name);
      return v != nullptr ? *v : Value::undefined(repr_string(e.name) + " is undefined");
    }
    case EKind::kList:
    case EKind::kTuple: {
      budget_.items(e.children.size());
      std::vector<Value> items;
      items.reserve(e.children.size());
      for (const ExprPtr& c : e.children) items.push_back(eval(*c, scope));
      return Value::list(std::move(items), e.kind == EKind::kTuple);
    }
    case EKind::kDict: {
      MapData map;
      for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
        const Value key = eval(*e.children[i], scope);
        if (!key.is_string()) {
          throw_runtime(std::string("dict keys must be strings here, not ") + key.type_name());
        }
        map.set(key.as_string(), eval(*e.children[i + 1], scope));
      }
      return Value::map(std::move(map));
    }
    case EKind::kAttr:
      return get_attr(eval(*e.children[0], scope), e.name);
    case EKind::kItem: {
      const Value object = eval(*e.children[0], scope);
      return get_item(object, eval(*e.children[1], scope), budget_);
    }
    case EKind::kSlice: {
      const Value object = eval(*e.children[0], scope);
      Value bounds[3];
      for (size_t i = 0; i < 3; ++i) {
        if (e.children[i + 1]) bounds[i] = eval(*e.children[i + 1], scope);
      }
      const auto bound = [&](size_t i) { return e.children[i + 1] ? &bounds[i] : nullptr; };
      return slice(object, bound(0), bound(1), bound(2), budget_);
    }
    case EKind::kCall:
      return eval_call(e, scope, Value());
    case EKind::kFilter:
      return eval_filter(e, scope, nullptr);
    case EKind::kTest: {
      const Value subject = eval(*e.children[0], scope);
      CallArgs args = eval_args(e.args, scope);
      return Value::boolean(test(e.name, subject, args) != e.negated);
    }
    case EKind::kNeg:
      return negate(eval(*e.children[0], scope));
    case EKind::kPos:
      return unary_plus(eval(*e.children[0], scope));
    case EKind::kNot:
      return Value::boolean(!truthy(eval(*e.children[0], scope)));
    case EKind::kBinary: {
      const Value left = eval(*e.children[0], scope);
      return binary_op(e.op, left, eval(*e.children[1], scope), budget_);
    }
    case EKind::kAnd: {
      Value left = eval(*e.children[0], scope);  // Python returns the deciding operand
      return truthy(left) ? eval(*e.children[1], scope) : left;
    }
    case EKind::kOr: {
      Value left = eval(*e.children[0], scope);
      return truthy(left) ? left : eval(*e.children[1], scope);
    }
    case EKind::kCompare:
      return eval_compare(e, scope);
    case EKind::kConcat: {
      std::string out;
      for (const ExprPtr& c : e.children) append_str(out, eval(*c, scope), budget_);
      budget_.text(out.size());
      return Value::string(std::move(out));
    }
    case EKind::kCondition:
      if (truthy(eval(*e.children[1], scope))) return eval(*e.children[0], scope);
      return e.children[2] ? eval(*e.children[2], scope) : Value::undefined("");
  }
  return Value();
}

}  // namespace llm::jinja
