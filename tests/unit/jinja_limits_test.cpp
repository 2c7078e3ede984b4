// The resource limits that keep hostile chat templates and inputs in check (memory, time,
// stack), and random mutations of real templates failing cleanly.
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

// --- limits: a template cannot exhaust memory, time or the stack ---

TEST(Limits, OutputSize) {
  EXPECT_NE(render_error("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}")
                .find("output or string too large"),
            std::string::npos);
  ChatTemplate::Limits small;
  small.max_output_bytes = 1000;
  EXPECT_EQ(render("{{ 'x' * 1000 }}", "{}", small).size(), 1000u);
  EXPECT_NE(render_error("{{ 'x' * 1001 }}", "{}", small).find("too large"), std::string::npos);
  EXPECT_NE(render_error("{{ 'x' * 600 }}{{ 'y' * 600 }}", "{}", small).find("too large"),
            std::string::npos);
  // Strings built but never printed count too, and so do macro outputs and captured blocks.
  EXPECT_NE(render_error("{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                         "{% set ns.s = ns.s + ns.s %}{% endfor %}")
                .find("too large"),
            std::string::npos);
  EXPECT_NE(render_error("{% set s = 'ab' * 100000000000 %}").find("too large"), std::string::npos);
  EXPECT_NE(render_error("{% set s = 'a' ~ 'b' * 1000 %}", "{}", small).find("too large"),
            std::string::npos);
  EXPECT_NE(
      render_error("{% macro m() %}{{ 'x' * 999 }}{{ 'y' * 2 }}{% endmacro %}{% set s = m() %}",
                   "{}", small)
          .find("too large"),
      std::string::npos);
  EXPECT_NE(render_error("{{ x | tojson(indent=100) }}", R"({"x": [[[[[[[[1]]]]]]]]})", small)
                .find("too large"),
            std::string::npos);
}

TEST(Limits, ListSize) {
  EXPECT_NE(render_error("{% for i in range(10**9) %}{% endfor %}").find("list too large"),
            std::string::npos);
  EXPECT_NE(render_error("{{ range(9223372036854775807) | length }}").find("list too large"),
            std::string::npos);
  EXPECT_NE(render_error("{% set l = [1] * 100000000000 %}").find("list too large"),
            std::string::npos);
  EXPECT_NE(render_error("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}"
                         "{% set ns.l = ns.l + ns.l %}{% endfor %}")
                .find("list too large"),
            std::string::npos);
}

TEST(Limits, LoopIterations) {
  EXPECT_EQ(ChatTemplate::Limits{}.max_loop_iterations, 200'000u);
  ChatTemplate::Limits small;
  small.max_loop_iterations = 10'000;
  // All loops of a render count together, nested ones included.
  EXPECT_NE(render_error("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}"
                         "{% endfor %}",
                         "{}", small)
                .find("loop iteration limit"),
            std::string::npos);
  small.max_loop_iterations = 10;
  EXPECT_EQ(render("{% for i in range(10) %}{{ i }}{% endfor %}", "{}", small), "0123456789");
  EXPECT_NE(
      render_error("{% for i in range(11) %}{% endfor %}", "{}", small).find("iteration limit"),
      std::string::npos);
  EXPECT_NE(render_error("{% for i in range(5) %}{% endfor %}{% for i in range(6) %}{% endfor %}",
                         "{}", small)
                .find("iteration limit"),
            std::string::npos);
}

TEST(Limits, RecursionDepth) {
  EXPECT_NE(render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
                .find("recursion too deep"),
            std::string::npos);
  // Mutual recursion through call blocks.
  EXPECT_NE(render_error("{% macro a() %}{% call b() %}x{% endcall %}{% endmacro %}"
                         "{% macro b() %}{{ a() }}{{ caller() }}{% endmacro %}{{ a() }}")
                .find("recursion too deep"),
            std::string::npos);
  // Legitimate recursion well inside the limit works.
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{{ n }}{% endmacro %}"
                   "{{ f(30) | length }}"),
            "52");
}

TEST(Limits, DeeplyNestedSyntax) {
  const auto repeat = [](std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  for (int n : {300, 10000}) {
    EXPECT_NE(
        compile_error("{{ " + repeat("(", n) + "1" + repeat(")", n) + " }}").find("too deeply"),
        std::string::npos);
    EXPECT_NE(compile_error("{{ " + repeat("[", n) + repeat("]", n) + " }}").find("too deeply"),
              std::string::npos);
    EXPECT_NE(compile_error("{{ " + repeat("not ", n) + "x }}").find("too deeply"),
              std::string::npos);
    EXPECT_NE(compile_error("{{ " + repeat("- ", n) + "1 }}").find("too deeply"),
              std::string::npos);
    EXPECT_NE(compile_error("{{ 1" + repeat(" + 1", n) + " }}").find("too deeply"),
              std::string::npos);
    EXPECT_NE(compile_error("{{ x" + repeat(".a", n) + " }}").find("too deeply"),
              std::string::npos);
    EXPECT_NE(compile_error("{{ x" + repeat(" | trim", n) + " }}").find("too deeply"),
              std::string::npos);
    EXPECT_NE(compile_error("{{ 1" + repeat(" if x else 1", n) + " }}").find("too deeply"),
              std::string::npos);
    EXPECT_NE(compile_error(repeat("{% if x %}", n) + repeat("{% endif %}", n)).find("too deeply"),
              std::string::npos);
  }
  EXPECT_NE(
      compile_error("{{ " + repeat("(", 1000000) + repeat(")", 1000000) + " }}").find("too deeply"),
      std::string::npos);
  // Moderate nesting, as real templates have, is fine.
  EXPECT_EQ(render("{{ " + repeat("(", 50) + "1" + repeat(")", 50) + " }}"), "1");
  EXPECT_EQ(render(repeat("{% if true %}", 40) + "deep" + repeat("{% endif %}", 40)), "deep");
  EXPECT_EQ(render("{{ 0" + repeat(" + 1", 150) + " }}"), "150");
}

TEST(Limits, DeeplyNestedValues) {
  EXPECT_NE(render_error("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}"
                         "{% set ns.x = [ns.x] %}{% endfor %}")
                .find("nested too deeply"),
            std::string::npos);
  std::string deep = "{\"x\": ";
  for (int i = 0; i < 1000; ++i) deep += "[";
  for (int i = 0; i < 1000; ++i) deep += "]";
  deep += "}";
  EXPECT_NE(render_error("{{ x }}", deep).find("nested too deeply"), std::string::npos);
}

// Each string is within the 1 MiB limit, but a render keeping many of them would hold
// gigabytes: the strings one render builds are bounded together.
TEST(Limits, TotalTextBuiltByOneRender) {
  ChatTemplate::Limits small;
  small.max_total_text_bytes = 100'000;
  EXPECT_EQ(render("{% set s = 'x' * 1000 %}{% for i in range(50) %}{% set t = s ~ i %}"
                   "{% endfor %}ok",
                   "{}", small),
            "ok");
  EXPECT_NE(render_error("{% set ns = namespace(l=[]) %}{% for i in range(200) %}"
                         "{% set ns.l = ns.l + ['x' * 1000 ~ i] %}{% endfor %}",
                         "{}", small)
                .find("built too much text"),
            std::string::npos);
  EXPECT_NE(render_error("{% for i in range(1000) %}{% set t = 'x' * 1000000 %}{% endfor %}")
                .find("built too much text"),
            std::string::npos);
}

TEST(Limits, EvaluationSteps) {
  // Each `in` scans a 1 MB string: cheap per iteration in loop terms, expensive in time.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(render_error("{% set s = 'x' * 1000000 %}{% for i in range(100000) %}"
                         "{% if 'y' in s %}{% endif %}{% endfor %}")
                .find("evaluation budget"),
            std::string::npos);
  ChatTemplate::Limits much_text;  // so that the steps, not the text built, run out
  much_text.max_total_text_bytes = size_t{1} << 40;
  EXPECT_NE(render_error("{% set s = 'x' * 1000000 %}{% for i in range(100000) %}"
                         "{% set t = s ~ '' %}{% endfor %}",
                         "{}", much_text)
                .find("evaluation budget"),
            std::string::npos);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 30.0);
  ChatTemplate::Limits small;
  small.max_steps = 1000;
  EXPECT_NE(render_error("{% for i in range(1000) %}{{ i }}{% endfor %}", "{}", small)
                .find("evaluation budget"),
            std::string::npos);
}

// --- hostile input: random mutations of real templates never crash or hang ---

TEST(Robustness, MutatedTemplatesFailCleanly) {
  const char* const kSeeds[] = {
      "{%- for message in messages %}{%- if message['role'] == 'system' %}{{ '<<SYS>>' + "
      "message['content'] | trim }}{%- elif loop.index0 % 2 == 0 %}{{ message.content.strip() "
      "}}{% else %}{{ raise_exception('bad') }}{% endif %}{% endfor %}",
      "{% set ns = namespace(a=[], s='') %}{% for k, v in {'a': 1}.items() %}{% set ns.s = ns.s ~ "
      "k ~ v %}{% endfor %}{{ ns.s | tojson(indent=2) }}{{ [1, 2, 3][::-1] | join(',') }}",
      "{% macro m(x, y=2) %}{{ x ~ y ~ varargs }}{% endmacro %}{% call(z) m(1) %}{{ z }}"
      "{% endcall %}{{ m(1, 2, 3) | upper }}{{ range(3) | map('string') | list }}",
      "{% for x in messages | selectattr('role', 'equalto', 'user') %}{{ x | tojson }}"
      "{{ loop.previtem }}{% if x is mapping and 'content' in x %}{{ x['content'][1:] }}"
      "{% endif %}{% endfor %}{% raw %}{{ raw }}{% endraw %}",
  };
  const std::string kTokens[] = {"{{", "}}",  "{%",     "%}", "{#",    "#}",    "-", "(",
                                 ")",  "[",   "]",      "'",  "\"",    "\\",    "|", ".",
                                 ",",  "for", "endfor", "if", "endif", "macro", "x", "1",
                                 "**", "~",   "not",    "in", "is",    "\n",    " ", "é"};
  std::mt19937 rng(12345);
  ChatTemplate::Inputs inputs;
  inputs.messages = Json::parse(
      R"([{"role": "system", "content": "s"}, {"role": "user", "content": "é\n"}, {"role": "assistant", "content": null}])");
  inputs.limits.max_steps = 200000;
  inputs.limits.max_output_bytes = 1 << 16;
  int compiled = 0;
  for (const char* seed : kSeeds) {
    for (int round = 0; round < 400; ++round) {
      std::string source = seed;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !source.empty(); ++e) {
        const size_t pos = rng() % source.size();
        switch (rng() % 3) {
          case 0:
            source.erase(pos, 1 + rng() % 5);
            break;
          case 1:
            source.insert(pos, kTokens[rng() % std::size(kTokens)]);
            break;
          default:
            source.insert(pos, source.substr(rng() % source.size(), rng() % 20));
        }
      }
      try {
        const ChatTemplate tmpl = ChatTemplate::compile(source);
        ++compiled;
        tmpl.render(inputs);
      } catch (const Error&) {
        // syntax and runtime errors are fine; anything else fails the test
      }
    }
  }
  EXPECT_GT(compiled, 100);
}

TEST(Robustness, HostileInputsAreData) {
  // Template syntax in the messages is never interpreted; invalid UTF-8 passes through.
  ChatTemplate::Inputs inputs;
  inputs.messages = Json::array({Json{{"role", "user"}, {"content", "{{ 7 * 7 }}{% if %}"}}});
  EXPECT_EQ(ChatTemplate::compile("{{ messages[0].content }}").render(inputs),
            "{{ 7 * 7 }}{% if %}");
  EXPECT_EQ(render("{{ '\xff\xfe' | length }} {{ '\xff' ~ 'x' }} {{ '\xc3' | tojson }}"),
            "2 \xffx \"\xc3\"");
  // Numbers past int64 and non-object extras.
  inputs.messages = Json::parse(R"([{"n": 18446744073709551615}])");
  EXPECT_EQ(ChatTemplate::compile("{{ messages[0].n }}").render(inputs), "1.8446744073709552e+19");
  inputs.extra_variables = Json::array();
  EXPECT_THROW(ChatTemplate::compile("x").render(inputs), ChatTemplateError);
}

}  // namespace
}  // namespace llm::jinja_test
