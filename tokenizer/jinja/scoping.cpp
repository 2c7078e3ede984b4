#include "tokenizer/jinja/scoping.h"

#include <string>
#include <unordered_set>
#include <vector>

namespace llm::jinja {
namespace {

using NameSet = std::unordered_set<std::string>;

// One scope ("frame" in Jinja): the statements that run in it, the names its header
// declares (loop targets, macro parameters) and the list to fill.
struct Frame {
  const Body* body;
  std::vector<std::string> declared;
  std::vector<std::string>* shadowed;
  const std::vector<Param>* params = nullptr;  // macro defaults are evaluated in the frame
};

void collect_names(const Expr* e, NameSet& out) {
  if (e == nullptr) return;
  if (e->kind == Expr::Kind::kName) out.insert(e->name);
  for (const ExprPtr& c : e->children) collect_names(c.get(), out);
  for (const Arg& a : e->args) collect_names(a.value.get(), out);
}

class Analyzer {
 public:
  // `outer`: the names of every enclosing frame (complete, as Jinja analyzes a frame fully
  // before the frames nested in it).
  void run(const Frame& frame, std::vector<const NameSet*>& outer) {
    NameSet refs(frame.declared.begin(), frame.declared.end());
    std::vector<Frame> nested;
    if (frame.params != nullptr) {
      for (const Param& p : *frame.params) load_expr(p.default_value.get(), refs);
    }
    visit(*frame.body, refs, frame.shadowed, outer, nested);
    outer.push_back(&refs);
    for (const Frame& inner : nested) run(inner, outer);
    outer.pop_back();
  }

 private:
  static bool in_outer(const std::string& name, const std::vector<const NameSet*>& outer) {
    for (const NameSet* s : outer) {
      if (s->count(name) != 0) return true;
    }
    return false;
  }

  static void load_expr(const Expr* e, NameSet& refs) { collect_names(e, refs); }

  // `shadowed` is null inside if-branches: Jinja merges branch assignments as conditional,
  // and a conditional assignment does not hide the outer value.
  static void store(const std::string& name, NameSet& refs, std::vector<std::string>* shadowed,
                    const std::vector<const NameSet*>& outer) {
    if (refs.count(name) != 0) return;
    refs.insert(name);
    if (shadowed != nullptr && !in_outer(name, outer)) shadowed->push_back(name);
  }

  void visit(const Body& body, NameSet& refs, std::vector<std::string>* shadowed,
             const std::vector<const NameSet*>& outer, std::vector<Frame>& nested) {
    for (const StmtPtr& s : body) {
      switch (s->kind) {
        case Stmt::Kind::kOutput:
          load_expr(s->expr.get(), refs);
          break;
        case Stmt::Kind::kIf:
          for (const IfBranch& b : s->branches) {
            load_expr(b.condition.get(), refs);
            visit(b.body, refs, nullptr, outer, nested);
          }
          break;
        case Stmt::Kind::kFor: {
          load_expr(s->expr.get(), refs);
          std::vector<std::string> declared = s->target.names;
          declared.push_back("loop");
          nested.push_back(Frame{&s->body, std::move(declared), &s->shadowed});
          nested.push_back(Frame{&s->else_body, {}, &s->else_shadowed});
          break;
        }
        case Stmt::Kind::kSet:
        case Stmt::Kind::kSetBlock:
          load_expr(s->expr.get(), refs);
          if (!s->target.attr.empty()) {
            refs.insert(s->target.names[0]);  // ns.attr = ...: a use of ns
          } else {
            for (const std::string& name : s->target.names) store(name, refs, shadowed, outer);
          }
          if (s->kind == Stmt::Kind::kSetBlock) nested.push_back(Frame{&s->body, {}, &s->shadowed});
          break;
        case Stmt::Kind::kMacro:
        case Stmt::Kind::kCallBlock: {
          if (s->kind == Stmt::Kind::kMacro) {
            store(s->name, refs, shadowed, outer);
          } else {
            load_expr(s->expr.get(), refs);
          }
          std::vector<std::string> declared = {"varargs", "kwargs", "caller"};
          for (const Param& p : s->params) declared.push_back(p.name);
          nested.push_back(Frame{&s->body, std::move(declared), &s->shadowed, &s->params});
          break;
        }
        case Stmt::Kind::kFilterBlock:
          load_expr(s->filter.get(), refs);
          nested.push_back(Frame{&s->body, {}, &s->shadowed});
          break;
        case Stmt::Kind::kWith: {
          std::vector<std::string> declared;
          for (const Param& p : s->params) {
            load_expr(p.default_value.get(), refs);
            declared.push_back(p.name);
          }
          nested.push_back(Frame{&s->body, std::move(declared), &s->shadowed});
          break;
        }
        case Stmt::Kind::kScope:
          nested.push_back(Frame{&s->body, {}, &s->shadowed});
          break;
        default:
          break;
      }
    }
  }
};

}  // namespace

void resolve_scopes(Program& program) {
  std::vector<const NameSet*> outer;
  Analyzer().run(Frame{&program.body, {}, &program.shadowed}, outer);
}

}  // namespace llm::jinja
