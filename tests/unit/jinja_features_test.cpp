// Jinja2 statements beyond the goldens: control flow, loops, assignment and scoping,
// macros and call blocks, whitespace control; and the API's inputs.
// The expected strings were produced by Python's Jinja2 3.1.6 configured as transformers
// configures it (see tests/data/chat_templates/README.md).
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/jinja_test_support.h"

namespace llm::jinja_test {
namespace {

const Case kCases[] = {
    {"if_elif_else",
     "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %},{% "
     "endfor %}",
     "{}", "one,two,many,"},
    {"for_over_mapping_keys", "{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}", "{}", "ba"},
    {"for_over_string",
     "{% for c in 'h\xc3"
     "\xa9"
     "llo' %}[{{ c }}]{% endfor %}",
     "{}",
     "[h][\xc3"
     "\xa9"
     "][l][l][o]"},
    {"for_else",
     "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}empty{% "
     "endfor %}",
     "{}", "empty|1"},
    {"for_loop_filter",
     "{% for x in range(10) if x % 3 == 0 %}{{ loop.index }}:{{ x }}/{{ loop.length }} {% endfor "
     "%}",
     "{}", "1:0/4 2:3/4 3:6/4 4:9/4 "},
    {"for_unpack_items", "{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor %}",
     "{}", "b=1;a=2;"},
    {"for_unpack_items_filter",
     "{% for k, v in {'b': 1, 'a': 2} | items %}{{ k }}={{ v }};{% endfor %}", "{}", "b=1;a=2;"},
    {"for_unpack_parens", "{% for (a, b) in [[1, 2], [3, 4]] %}{{ a }}{{ b }}{% endfor %}", "{}",
     "1234"},
    {"loop_variables",
     "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ "
     "loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}",
     "{}", "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|"},
    {"loop_prev_next",
     "{% for x in ['a', 'b', 'c'] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}{% if "
     "loop.previtem is defined %}!{% endif %} {% endfor %}",
     "{}", "<a>b a<b>c! b<c>! "},
    {"loop_cycle", "{% for x in range(5) %}{{ loop.cycle('odd', 'even') }} {% endfor %}", "{}",
     "odd even odd even odd "},
    {"nested_loops",
     "{% for a in [1, 2] %}{% for b in [1, 2] %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{{ "
     "loop.index }}|{% endfor %}",
     "{}", "111 122 1|211 222 2|"},
    {"break_continue",
     "{% for i in range(10) %}{% if i == 6 %}{% break %}{% endif %}{% if i % 2 %}{% continue %}{% "
     "endif %}{{ i }}{% endfor %}",
     "{}", "024"},
    {"set_scoping",
     "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i * 10 %}{{ x }} {% endfor %}{{ x }}",
     "{}", "110 120 1"},
    {"set_in_if_visible", "{% if true %}{% set x = 'in if' %}{% endif %}{{ x }}", "{}", "in if"},
    {"set_rebinds_input", "{% set messages = messages[1:] %}{{ messages | length }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "
     "\"content\": \" Hi \"}, {\"role\": \"assistant\", \"content\": \"Yo\", \"tool_calls\": "
     "[{\"function\": {\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": [1, 2.5, null, "
     "true]}}}]}]}",
     "2"},
    {"set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}", "{}", "12"},
    {"namespace",
     "{% set ns = namespace(count=0, names='') %}{% for m in messages %}{% set ns.count = ns.count "
     "+ 1 %}{% set ns.names = ns.names ~ m.role ~ ',' %}{% endfor %}{{ ns.count }} {{ ns.names }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "
     "\"content\": \" Hi \"}, {\"role\": \"assistant\", \"content\": \"Yo\", \"tool_calls\": "
     "[{\"function\": {\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": [1, 2.5, null, "
     "true]}}}]}]}",
     "3 system,user,assistant,"},
    {"namespace_repr",
     "{% set ns = namespace(a=1) %}{{ ns }}|{{ ns.b }}|{% set ns.b = [1, 'x'] %}{{ ns.b }}{{ "
     "ns['a'] }}",
     "{}", "<Namespace {'a': 1}>||[1, 'x']1"},
    {"block_set", "{% set text %}Hello {{ name }}!{% endset %}[{{ text }}]", "{\"name\": \"Bob\"}",
     "[Hello Bob!]"},
    {"block_set_filter",
     "{% set text | upper | trim %}  hello {{ name }}  {% endset %}[{{ text }}]",
     "{\"name\": \"Bob\"}", "[HELLO BOB]"},
    {"filter_block", "{% filter upper %}abc {{ x }}{% endfilter %}", "{\"x\": \"def\"}", "ABC DEF"},
    {"with_block", "{% set a = 1 %}{% with a = 2, b = a %}{{ a }}{{ b }}{% endwith %}{{ a }}", "{}",
     "211"},
    {"generation_block", "A{% generation %}B{{ 1 }}{% endgeneration %}C", "{}", "AB1C"},
    {"raw_block", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}!", "{}",
     "{{ not evaluated }} {% if %}!"},
    {"comment", "a{# a comment {{ x }} #}b{#- trimmed -#}   c", "{}", "abc"},
    {"macro_defaults",
     "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ "
     "greet('Ann') }} {{ greet('Bo', 'Hi') }} {{ greet(greeting='Yo', name='Cy') }}",
     "{}", "Hello, Ann! Hi, Bo! Yo, Cy!"},
    {"macro_varargs_kwargs",
     "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}", "{}",
     "1(2, 3){'x': 4}"},
    {"macro_recursion",
     "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n }}*{{ fact(n - 1) }}{% endif %}{% endmacro "
     "%}{{ fact(5) }}",
     "{}", "5*4*3*2*1"},
    {"macro_sees_globals_at_call",
     "{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }}", "{}", "2"},
    {"macro_missing_arg", "{% macro m(a, b) %}[{{ a }}][{{ b }}]{% endmacro %}{{ m(1) }}", "{}",
     "[1][]"},
    {"macro_default_uses_param", "{% macro m(a, b=a * 2) %}{{ a }}{{ b }}{% endmacro %}{{ m(3) }}",
     "{}", "36"},
    {"macro_render_tool",
     "{%- macro render(t) -%}\n{{ t.function.name }}({{ t.function.arguments | tojson }})\n{%- "
     "endmacro -%}\n{% for m in messages if m.tool_calls %}{% for t in m.tool_calls %}{{ render(t) "
     "}}{% endfor %}{% endfor %}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "
     "\"content\": \" Hi \"}, {\"role\": \"assistant\", \"content\": \"Yo\", \"tool_calls\": "
     "[{\"function\": {\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": [1, 2.5, null, "
     "true]}}}]}]}",
     "f({\"b\": 1, \"a\": [1, 2.5, null, true]})"},
    {"call_block",
     "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') "
     "%}bold {{ 1 + 1 }}{% endcall %}",
     "{}", "<b>bold 2</b>"},
    {"call_block_args",
     "{% macro each(xs) %}{% for x in xs %}{{ caller(x, loop.index) }}{% endfor %}{% endmacro %}{% "
     "call(item, i) each(['a', 'b']) %}{{ i }}={{ item }};{% endcall %}",
     "{}", "1=a;2=b;"},
    {"trim_blocks", "{% if true %}\nyes\n{% endif %}\nend", "{}", "yes\nend"},
    {"lstrip_blocks",
     "<ul>\n    {% for x in [1, 2] %}\n    <li>{{ x }}</li>\n    {% endfor %}\n</ul>", "{}",
     "<ul>\n    <li>1</li>\n    <li>2</li>\n</ul>"},
    {"lstrip_not_for_variables", "    {{ 'v' }}\n  x {% if true %}y{% endif %}", "{}",
     "    v\n  x y"},
    {"whitespace_control_minus",
     "a   {%- if true -%}   b   {%- endif -%}   c\n  {{- ' d ' -}}  \n e", "{}", "abc d e"},
    {"whitespace_control_plus", "a\n    {%+ if true %}b{% endif +%}\nc", "{}", "a\n    b\nc"},
    {"trailing_newline_dropped", "line\n", "{}", "line"},
    {"only_one_trailing_newline_dropped", "line\n\n", "{}", "line\n"},
    {"crlf_normalized", "a\r\nb\rc{% if true %}\r\nd{% endif %}", "{}", "a\nb\ncd"},
    {"comment_trim_blocks", "a\n{# note #}\nb\n  {# indented #}\nc", "{}", "a\nb\nc"},
};

class StatementTest : public ::testing::TestWithParam<Case> {};

TEST_P(StatementTest, MatchesJinja2) {
  const Case& c = GetParam();
  EXPECT_EQ(render(c.source, c.variables), c.expected) << c.source;
}

INSTANTIATE_TEST_SUITE_P(Jinja, StatementTest, ::testing::ValuesIn(kCases), case_name);

TEST(Api, InputsBecomeVariables) {
  const ChatTemplate tmpl = ChatTemplate::compile(
      "{{ bos_token is defined }}|{{ eos_token }}|{{ tools is none }}|{{ add_generation_prompt }}|"
      "{{ documents }}|{{ messages | length }}");
  ChatTemplate::Inputs inputs;
  inputs.messages = Json::array();
  inputs.eos_token = "</s>";
  inputs.add_generation_prompt = false;
  inputs.extra_variables = Json{{"documents", "docs"}};
  EXPECT_EQ(tmpl.render(inputs), "False|</s>|True|False|docs|0");
  inputs.bos_token = "<s>";
  inputs.tools = Json::array({Json{{"name", "f"}}});
  EXPECT_EQ(ChatTemplate::compile("{{ bos_token }}{{ tools[0].name }}").render(inputs), "<s>f");
}

TEST(Api, DefaultClockFormatsTheCurrentDate) {
  const std::string year = render("{{ strftime_now('%Y') }}");
  ASSERT_EQ(year.size(), 4u);
  EXPECT_GE(std::stoi(year), 2024);
  ChatTemplate::Inputs inputs;
  EXPECT_EQ(ChatTemplate::compile("{{ strftime_now('%Y') | length }}").render(inputs), "4");
}

}  // namespace
}  // namespace llm::jinja_test
