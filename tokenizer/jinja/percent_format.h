// Python's printf-style string formatting: `'%s: %d' % (a, b)`, `'%(k)s' % d`, and Jinja's
// `format` filter, which is built on it.
#pragma once

#include <string>
#include <string_view>

#include "tokenizer/jinja/value.h"

namespace llm::jinja {

// `format % args`: a tuple supplies the arguments in order; any other value is the single
// argument, and a mapping (or list) also serves %(key)s lookups. Throws a TemplateError for
// what Python rejects (too few / too many arguments, wrong types, bad format characters).
std::string percent_format(std::string_view format, const Value& args, Budget& budget);

}  // namespace llm::jinja
