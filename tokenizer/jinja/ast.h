// The syntax tree the parser builds and the interpreter walks. One node type for
// expressions and one for statements, each with a kind and the fields that kind uses
// (documented per kind), rather than a class per kind: the interpreter switches on kind.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace llm::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// A call argument: positional when `name` is empty.
struct Arg {
  std::string name;
  ExprPtr value;
};

struct Expr {
  enum class Kind {
    kLiteral,    // literal
    kName,       // name
    kList,       // children: items
    kTuple,      // children: items
    kDict,       // children: key0, value0, key1, value1, ...
    kAttr,       // children[0].name
    kItem,       // children[0][children[1]]
    kSlice,      // children[0][children[1]:children[2]:children[3]], each bound may be null
    kCall,       // children[0](args)
    kFilter,     // children[0] | name(args); children[0] null in a filter block's chain
    kTest,       // children[0] is [not] name(args); negated
    kNeg,        // -children[0]
    kPos,        // +children[0]
    kNot,        // not children[0]
    kBinary,     // children[0] op children[1]; op is + - * / // % **
    kAnd,        // children[0] and children[1]
    kOr,         // children[0] or children[1]
    kCompare,    // children[0] ops[0] children[1] ops[1] children[2] ... (chained)
    kConcat,     // children joined with ~
    kCondition,  // children[0] if children[1] else children[2] (else may be null)
  };

  Expr(Kind k, size_t off) : kind(k), offset(off) {}

  Kind kind;
  size_t offset;  // into the normalized source, for error messages
  int depth = 1;  // height of this subtree
  Value literal;
  std::string name;
  std::string op;
  std::vector<std::string> ops;
  std::vector<ExprPtr> children;
  std::vector<Arg> args;
  bool negated = false;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// What `for` and `set` assign to: a name, several names (tuple unpacking), or `ns.attr`.
struct Target {
  std::vector<std::string> names;
  bool unpack = false;
  std::string attr;  // set: names[0].attr = ...
};

struct Param {
  std::string name;
  ExprPtr default_value;  // null when required
};

struct IfBranch {
  ExprPtr condition;  // null for else
  Body body;
};

struct Stmt {
  enum class Kind {
    kText,         // text
    kOutput,       // {{ expr }}
    kIf,           // branches
    kFor,          // for target in expr [if condition]: body, else_body
    kSet,          // set target = expr
    kSetBlock,     // set target [| filter]: body; filter is a kFilter chain or null
    kMacro,        // macro name(params): body; the flags say what the body references
    kCallBlock,    // call(params) expr: body, passed to the call as caller()
    kFilterBlock,  // filter filter: body
    kWith,         // with params (names = values): body
    kScope,        // a block rendered in place: {% generation %}
    kBreak,
    kContinue,
  };

  Stmt(Kind k, size_t off) : kind(k), offset(off) {}

  Kind kind;
  size_t offset;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  ExprPtr filter;
  Target target;
  std::vector<IfBranch> branches;
  Body body;
  Body else_body;
  std::string name;
  std::vector<Param> params;
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
  // Names undefined on entry to the scope this statement opens (body / else body); see
  // scoping.h.
  std::vector<std::string> shadowed;
  std::vector<std::string> else_shadowed;
};

// A compiled template: the normalized source (for error positions) and its statements.
struct Program {
  std::string source;
  Body body;
  std::vector<std::string> shadowed;  // at the top level
};

}  // namespace llm::jinja
