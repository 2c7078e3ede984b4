// Jinja2 errors: runtime errors carry a description and the position of the failing
// operation; syntax errors carry line and column.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "llm/error.h"
#include "tests/unit/jinja_test_support.h"
#include "tokenizer/chat_template.h"

namespace llm::jinja_test {
namespace {

// --- runtime errors: ChatTemplateError with a description and the position ---

TEST(RuntimeErrors, UndefinedMemberAccess) {
  // The position is that of the operation that failed: here the access to `.bar`.
  EXPECT_EQ(render_error("{{ foo.bar }}"),
            "chat template error at line 1, column 8: 'foo' is undefined");
  EXPECT_EQ(render_error("x\n  {{ m.missing.bar }}", R"({"m": {"a": 1}})"),
            "chat template error at line 2, column 16: 'dict object' has no attribute 'missing'");
  EXPECT_EQ(render_error("{{ m['missing']['x'] }}", R"({"m": {}})"),
            "chat template error at line 1, column 16: 'dict object' has no attribute 'missing'");
  EXPECT_EQ(render_error("{{ u() }}"), "chat template error at line 1, column 5: 'u' is undefined");
  EXPECT_EQ(render_error("{{ u + 1 }}"),
            "chat template error at line 1, column 6: 'u' is undefined");
}

TEST(RuntimeErrors, TypeErrors) {
  EXPECT_EQ(render_error("{{ none + 'x' }}"),
            "chat template error at line 1, column 9: unsupported operand type(s) for +: "
            "'NoneType' and 'str'");
  EXPECT_NE(render_error("{{ 'x' + 1 }}").find("can only concatenate str (not \"int\") to str"),
            std::string::npos);
  EXPECT_NE(render_error("{{ [1] + 'a' }}").find("can only concatenate list"), std::string::npos);
  EXPECT_NE(
      render_error("{{ 1 < 'a' }}").find("'<' not supported between instances of 'int' and 'str'"),
      std::string::npos);
  EXPECT_NE(render_error("{{ 1() }}").find("'int' object is not callable"), std::string::npos);
  EXPECT_NE(render_error("{{ 3 in 5 }}").find("argument of type 'int' is not iterable"),
            std::string::npos);
  EXPECT_NE(render_error("{{ 1 in 'abc' }}").find("requires string as left operand"),
            std::string::npos);
  EXPECT_NE(render_error("{% for x in 5 %}{% endfor %}").find("'int' object is not iterable"),
            std::string::npos);
  EXPECT_NE(render_error("{{ none | length }}").find("object of type 'NoneType' has no len()"),
            std::string::npos);
  EXPECT_NE(
      render_error("{{ u | tojson }}").find("Object of type Undefined is not JSON serializable"),
      std::string::npos);
  EXPECT_NE(render_error("{{ 5 | items }}").find("Can only get item pairs from a mapping."),
            std::string::npos);
  EXPECT_NE(render_error("{{ -'a' }}").find("bad operand type for unary -"), std::string::npos);
  EXPECT_NE(render_error("{{ 'a' * 'b' }}").find("can't multiply sequence"), std::string::npos);
  EXPECT_NE(render_error("{{ 'a'.split('') }}").find("empty separator"), std::string::npos);
  EXPECT_NE(render_error("{{ ', '.join([1]) }}").find("expected str instance, int found"),
            std::string::npos);
  EXPECT_NE(render_error("{{ [[1]] | unique | list }}").find("unhashable type: 'list'"),
            std::string::npos);
  EXPECT_NE(render_error("{{ {1: 'a'} }}").find("dict keys must be strings"), std::string::npos);
  EXPECT_NE(render_error("{{ 'abc'.startswith(1) }}").find("must be str or a tuple of str"),
            std::string::npos);
  EXPECT_NE(render_error("{{ range(1, 2, 0) }}").find("must not be zero"), std::string::npos);
  EXPECT_NE(render_error("{{ [1, 2][::0] }}").find("slice step cannot be zero"), std::string::npos);
}

TEST(RuntimeErrors, ArithmeticErrors) {
  EXPECT_NE(render_error("{{ 1 / 0 }}").find("division by zero"), std::string::npos);
  EXPECT_NE(render_error("{{ 1 // 0 }}").find("integer division or modulo by zero"),
            std::string::npos);
  EXPECT_NE(render_error("{{ 1 % 0 }}").find("integer division or modulo by zero"),
            std::string::npos);
  EXPECT_NE(render_error("{{ 1.5 // 0 }}").find("float floor division by zero"), std::string::npos);
  EXPECT_NE(render_error("{{ 2 ** 64 }}").find("integer overflow"), std::string::npos);
  EXPECT_NE(render_error("{{ 9223372036854775807 + 1 }}").find("integer overflow"),
            std::string::npos);
  EXPECT_NE(render_error("{{ -9223372036854775807 - 2 }}").find("integer overflow"),
            std::string::npos);
  EXPECT_NE(render_error("{{ 0 ** -1 }}").find("cannot be raised to a negative power"),
            std::string::npos);
  EXPECT_EQ(render("{{ -9223372036854775807 - 1 }}"), "-9223372036854775808");
}

TEST(RuntimeErrors, UnknownFilterOrTestFailsOnlyWhenEvaluated) {
  EXPECT_EQ(render_error("{{ x | nofilter }}"),
            "chat template error at line 1, column 8: No filter named 'nofilter'.");
  EXPECT_NE(render_error("{% if x is nosuchtest %}{% endif %}").find("No test named 'nosuchtest'."),
            std::string::npos);
  EXPECT_EQ(render("{% if false %}{{ x | nofilter }}{% endif %}ok"), "ok");
}

TEST(RuntimeErrors, BadArguments) {
  EXPECT_NE(render_error("{{ 'x' | trim(1, 2) }}").find("takes at most 1 argument(s)"),
            std::string::npos);
  EXPECT_NE(render_error("{{ [1] | join(bogus=1) }}").find("unexpected keyword argument 'bogus'"),
            std::string::npos);
  EXPECT_NE(render_error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}")
                .find("macro 'm' takes not more than 1 argument(s)"),
            std::string::npos);
  EXPECT_NE(render_error("{% macro m(a) %}{% endmacro %}{{ m(1, a=2) }}")
                .find("got multiple values for argument 'a'"),
            std::string::npos);
  EXPECT_NE(render_error("{% macro m() %}x{% endmacro %}{% call m() %}y{% endcall %}")
                .find("two values for the special caller argument"),
            std::string::npos);
  EXPECT_NE(render_error("{% macro m() %}{{ caller() }}{% endmacro %}{{ m() }}")
                .find("No caller defined"),
            std::string::npos);
  EXPECT_NE(render_error("{% macro m(a) %}{% endmacro %}{{ m(b=2) }}")
                .find("takes no keyword argument 'b'"),
            std::string::npos);
}

TEST(RuntimeErrors, AssignmentErrors) {
  EXPECT_NE(render_error("{% set x = 1 %}{% set x.a = 1 %}")
                .find("cannot assign attribute on non-namespace object"),
            std::string::npos);
  EXPECT_NE(render_error("{% for a, b in [[1, 2, 3]] %}{% endfor %}")
                .find("too many values to unpack (expected 2)"),
            std::string::npos);
  EXPECT_NE(render_error("{% for a, b in [[1]] %}{% endfor %}")
                .find("not enough values to unpack (expected 2, got 1)"),
            std::string::npos);
  EXPECT_NE(render_error("{% for a, b in [1] %}{% endfor %}").find("cannot unpack non-iterable"),
            std::string::npos);
}

TEST(RuntimeErrors, ValuesAreImmutable) {
  EXPECT_NE(render_error("{% set xs = [1] %}{{ xs.append(2) }}").find("is not allowed"),
            std::string::npos);
  EXPECT_NE(render_error("{% set d = {} %}{{ d.update({'a': 1}) }}").find("is not allowed"),
            std::string::npos);
  // A namespace may not hold namespaces or macros: that would allow reference cycles.
  EXPECT_NE(render_error("{% set ns = namespace() %}{% set ns.self = ns %}")
                .find("cannot hold a namespace"),
            std::string::npos);
  EXPECT_NE(render_error("{% set ns = namespace() %}{% set ns.l = [ns] %}")
                .find("cannot hold a namespace"),
            std::string::npos);
  EXPECT_NE(render_error("{% macro m() %}{% endmacro %}{% set ns = namespace(f=m) %}")
                .find("cannot hold a namespace"),
            std::string::npos);
}

TEST(RuntimeErrors, RaiseExceptionMessageIsVerbatim) {
  const ChatTemplate tmpl = ChatTemplate::compile(
      "ok{% if messages | length > 1 %}{{ raise_exception('Too many: ' ~ messages | length) }}"
      "{% endif %}");
  ChatTemplate::Inputs inputs;
  inputs.messages = Json::parse(R"([{"role": "user"}, {"role": "user"}])");
  try {
    tmpl.render(inputs);
    ADD_FAILURE() << "no error";
  } catch (const ChatTemplateError& e) {
    EXPECT_STREQ(e.what(), "Too many: 2");
    EXPECT_TRUE(e.raised());
  }
  inputs.messages = Json::parse(R"([{"role": "user"}])");
  EXPECT_EQ(tmpl.render(inputs), "ok");
  try {
    ChatTemplate::compile("{{ 1 / 0 }}").render(inputs);
  } catch (const ChatTemplateError& e) {
    EXPECT_FALSE(e.raised());
  }
}

// --- syntax errors: llm::Error with line and column ---

TEST(SyntaxErrors, MessagesNameLineAndColumn) {
  EXPECT_EQ(compile_error("{% if %}"),
            "chat template syntax error at line 1, column 7: Expected an expression, got 'end of "
            "statement block'");
  EXPECT_EQ(compile_error("a\nb\n  {{ 1 + }}"),
            "chat template syntax error at line 3, column 10: unexpected 'end of print statement'");
  EXPECT_EQ(compile_error("{% foo %}"),
            "chat template syntax error at line 1, column 4: Encountered unknown tag 'foo'.");
  EXPECT_EQ(compile_error("{% for x in xs %}\n{{ x }}"),
            "chat template syntax error at line 2, column 8: Unexpected end of template. Jinja "
            "was looking for the following tags: 'endfor' or 'else'.");
  EXPECT_EQ(compile_error("é {{ 'abc }}"),
            "chat template syntax error at line 1, column 6: unterminated string literal");
}

TEST(SyntaxErrors, VariousMalformedTemplates) {
  const char* const kBad[] = {
      "{# never closed",
      "{% raw %}never closed",
      "{{ x",
      "{% if x %}",
      "{% if x %}{% else %}{% else %}{% endif %}",
      "{% endfor %}",
      "{% break %}",
      "{% for x in y %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}",
      "{{ (1 }}",
      "{{ [1, 2 }}",
      "{{ 1 ]}}",
      "{{ x | }}",
      "{{ x is }}",
      "{{ x. }}",
      "{{ 'a' 1 }}",
      "{% set %}",
      "{% set 1 = 2 %}",
      "{% set true = 2 %}",
      "{% macro m(a=1, b) %}{% endmacro %}",
      "{% call m %}{% endcall %}",
      "{{ 99999999999999999999 }}",
      "{{ '\\x4' }}",
      "{{ a ? b }}",
      "{% for x in xs recursive %}{% endfor %}",
      "{% include 'other.html' %}",
      "{% extends 'base' %}",
      "{{ f(a=1, 2) }}",
      "{{ x[1:2, 3] }}",
      "{{ }}",
      "{% %}",
  };
  for (const char* source : kBad) {
    const std::string message = compile_error(source);
    EXPECT_EQ(message.rfind("chat template syntax error at line ", 0), 0u)
        << source << ": " << message;
  }
}

}  // namespace
}  // namespace llm::jinja_test
