// Jinja2 decides at compile time which scope every name belongs to (jinja2/idtracking.py),
// and one consequence shows at run time: when the first mention of a name in a scope is an
// unconditional assignment, the name is undefined in that scope until the assignment runs,
// even if an enclosing scope or the render context has a value for it - loops and macros
// that read it earlier see undefined. This pass finds those names for every scope; the
// interpreter binds them to undefined when it enters the scope.
#pragma once

#include "tokenizer/jinja/ast.h"

namespace llm::jinja {

// Fills Program::shadowed and Stmt::shadowed / Stmt::else_shadowed.
void resolve_scopes(Program& program);

}  // namespace llm::jinja
