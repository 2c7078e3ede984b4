// Jinja2 features beyond the goldens (every item of the README's checklist), the error
// paths, and the resource limits that keep hostile templates and inputs in check.
// The expected strings in kCases were produced by Python's Jinja2 3.1.6 configured as
// transformers configures it (see tests/data/chat_templates/README.md).
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <iomanip>
#include <locale>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "llm/error.h"
#include "tokenizer/chat_template.h"

namespace llm {
namespace {

using Json = nlohmann::ordered_json;

std::string fixed_strftime(const std::string& format) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_wday = 4;
  tm.tm_yday = 14;
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::put_time(&tm, format.c_str());
  return out.str();
}

// Variables come as JSON text; "messages" goes to Inputs::messages, the rest are extras.
ChatTemplate::Inputs make_inputs(std::string_view variables_json) {
  ChatTemplate::Inputs inputs;
  Json vars = Json::parse(variables_json);
  if (vars.contains("messages")) inputs.messages = vars["messages"];
  inputs.extra_variables = std::move(vars);
  inputs.strftime_now = fixed_strftime;
  return inputs;
}

std::string render(std::string_view source, std::string_view variables_json = "{}",
                   const ChatTemplate::Limits& limits = {}) {
  ChatTemplate::Inputs inputs = make_inputs(variables_json);
  inputs.limits = limits;
  return ChatTemplate::compile(source).render(inputs);
}

// The message of the ChatTemplateError rendering must throw ("" and a test failure if none).
std::string render_error(std::string_view source, std::string_view variables_json = "{}",
                         const ChatTemplate::Limits& limits = {}) {
  const ChatTemplate tmpl = ChatTemplate::compile(source);
  ChatTemplate::Inputs inputs = make_inputs(variables_json);
  inputs.limits = limits;
  try {
    const std::string out = tmpl.render(inputs);
    ADD_FAILURE() << "expected a render error for: " << source << "\ngot " << out.size()
                  << " bytes: " << out.substr(0, 200);
  } catch (const ChatTemplateError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

std::string compile_error(std::string_view source) {
  try {
    ChatTemplate::compile(source);
    ADD_FAILURE() << "expected a syntax error for: " << source;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

struct Case {
  const char* name;
  const char* source;
  const char* variables;
  const char* expected;
};

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
    {"string_concat", "{{ 'a' + 'b' + message.content }}", "{\"message\": {\"content\": \"c\"}}",
     "abc"},
    {"tilde_concat", "{{ 'n=' ~ 1 ~ ' ' ~ none ~ ' ' ~ true ~ ' ' ~ 1.5 ~ [1] ~ undefined_var }}",
     "{}", "n=1 None True 1.5[1]"},
    {"filter_binds_tighter", "{{ '<x>' + message['content'] | trim + '<y>' }}",
     "{\"message\": {\"content\": \"  c  \"}}", "<x>c<y>"},
    {"not_binds_looser",
     "{{ not x is defined }} {{ not m.tool_calls | length == 1 }} {{ not 1 == 2 }}",
     "{\"m\": {\"tool_calls\": [1, 2]}}", "True True True"},
    {"arithmetic",
     "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ "
     "-7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ -3 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 "
     "}} {{ 7.5 // 2 }} {{ 1.5 + 1 }} {{ true + 1 }}",
     "{}", "10 -3 21 3.5 3 -4 1 2 -2 1024 0.5 -3 7 9 3.0 2.5 2"},
    {"float_repr",
     "{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.0001 }} {{ 123.456 }} {{ "
     "-0.0 }} {{ 1 / 3 }} {{ 2.5e-10 }}",
     "{}",
     "1.0 0.30000000000000004 1e+16 1000000000000000.0 1e-05 0.0001 123.456 -0.0 "
     "0.3333333333333333 2.5e-10"},
    {"comparisons",
     "{{ 1 < 2 }} {{ 2 > 3 }} {{ 2 <= 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 1 != 2 }} {{ [1, 2] < "
     "[1, 3] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ true == 1 }} {{ none == none }}",
     "{}", "True False True True True True True True False True True"},
    {"deep_equality",
     "{{ {'a': [1, {'b': 2}]} == {'a': [1, {'b': 2}]} }} {{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} "
     "}} {{ [1, 2] == [2, 1] }} {{ (1, 2) == [1, 2] }} {{ x == y }}",
     "{\"x\": {\"k\": [1, \"v\"]}, \"y\": {\"k\": [1, \"v\"]}}", "True True False False True"},
    {"in_operator",
     "{{ 'ell' in 'hello' }} {{ 'role' in m }} {{ 'nope' in m }} {{ 2 in [1, 2] }} {{ 3 not in [1, "
     "2] }} {{ 'x' not in 'abc' }} {{ 'a' in undefined_var }}",
     "{\"m\": {\"role\": \"user\"}}", "True True False True True True False"},
    {"and_or_values",
     "{{ 0 and 1 }} {{ 1 and 2 }} {{ '' or 'x' }} {{ 'a' or 'b' }} {{ none or [] }} {{ not '' }} "
     "{{ undefined_var or 'fallback' }}",
     "{}", "0 2 x a [] True fallback"},
    {"inline_if",
     "{{ 'yes' if x else 'no' }} {{ 'yes' if y else 'no' }} [{{ 'only' if y }}] {{ 1 if false else "
     "2 if false else 3 }}",
     "{\"x\": 1, \"y\": 0}", "yes no [] 3"},
    {"subscripts",
     "{{ xs[0] }} {{ xs[-1] }} {{ xs[i] }} {{ xs[i + 1] }} {{ d['k'] }} {{ d.k }} {{ d['missing'] "
     "}}|{{ xs[10] }}|{{ 'abc'[1] }} {{ xs.0 }}",
     "{\"xs\": [10, 20, 30], \"i\": 1, \"d\": {\"k\": \"v\"}}", "10 30 20 30 v v ||b 10"},
    {"slicing",
     "{{ xs[1:] }} {{ xs[:-1] }} {{ xs[:] }} {{ xs[::-1] }} {{ xs[::2] }} {{ xs[1:2] }} {{ xs[5:] "
     "}} {{ s[:-1] }} {{ s[2:] }} {{ s[::-1] }} {{ 'h\xc3"
     "\xa9"
     "llo'[1:3] }}",
     "{\"xs\": [1, 2, 3, 4], \"s\": \"hello\"}",
     "[2, 3, 4] [1, 2, 3] [1, 2, 3, 4] [4, 3, 2, 1] [1, 3] [2] [] hell llo olleh \xc3"
     "\xa9"
     "l"},
    {"literals",
     "{{ true }} {{ false }} {{ none }} {{ True }} {{ False }} {{ None }} {{ 42 }} {{ 1_000 }} {{ "
     "0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }}",
     "{}", "True False None True False None 42 1000 31 15 5 1500.0"},
    {"string_escapes",
     "{{ 'a\\nb\\tc\\\\d\\'e' }}|{{ \"q\\\"q\" }}|{{ 'x\\u00e9\\x41' }}|{{ 'keep\\d' }}|{{ "
     "'multi\nline' }}|{{ 'adj' 'acent' }}",
     "{}",
     "a\nb\tc\\d'e|q\"q|x\xc3"
     "\xa9"
     "A|keep\\d|multi\nline|adjacent"},
    {"list_dict_tuple_literals",
     "{{ [1, 'a', none, true, 1.5, [2]] }} {{ {'k': 'v', 'n': none, 'q': \"it's\"} }} {{ (1, 2) }} "
     "{{ (1,) }} {{ () }} {{ [] }} {{ {} }} {{ [1, 2,] }}",
     "{}",
     "[1, 'a', None, True, 1.5, [2]] {'k': 'v', 'n': None, 'q': \"it's\"} (1, 2) (1,) () [] {} [1, "
     "2]"},
    {"dict_literal_values",
     "{% set d = {'role': 'user', 'content': x} %}{{ d.role }}:{{ d['content'] }} {{ d | length }}",
     "{\"x\": \"hi\"}", "user:hi 2"},
    {"attribute_of_none_is_undefined", "[{{ n.foo }}]{{ n.foo is defined }}", "{\"n\": null}",
     "[]False"},
    {"undefined_behaviour",
     "[{{ u }}]{{ u is defined }}{{ u is none }}{{ u | length }}{% for x in u %}never{% endfor "
     "%}{{ u == u }}{% if not u %}falsy{% endif %}",
     "{}", "[]FalseFalse0Truefalsy"},
    {"json_input_types",
     "{{ v.i }} {{ v.f }} {{ v.b }} {{ v.n }} {{ v.s }} {{ v.l }} {{ v.o }} {{ v.n is none }} {{ "
     "v.f is float }} {{ v.i is integer }}",
     "{\"v\": {\"i\": 3, \"f\": 2.0, \"b\": false, \"n\": null, \"s\": \"x\", \"l\": [1, \"two\"], "
     "\"o\": {\"k\": null}}}",
     "3 2.0 False None x [1, 'two'] {'k': None} True True True"},
    {"tests_types",
     "{{ s is string }}{{ 1 is string }}{{ d is mapping }}{{ l is mapping }}{{ s is iterable }}{{ "
     "l is iterable }}{{ d is iterable }}{{ 1 is iterable }}{{ l is sequence }}{{ 1 is number }}{{ "
     "1.5 is number }}{{ 1 is integer }}{{ 1.5 is float }}{{ true is boolean }}",
     "{\"s\": \"x\", \"d\": {}, \"l\": []}",
     "TrueFalseTrueFalseTrueTrueTrueFalseTrueTrueTrueTrueTrueTrue"},
    {"tests_values",
     "{{ false is false }}{{ 0 is false }}{{ true is true }}{{ none is none }}{{ u is undefined "
     "}}{{ 1 is defined }}{{ 4 is divisibleby 2 }}{{ 3 is divisibleby(2) }}{{ 2 is even }}{{ 3 is "
     "odd }}{{ 'a' is in 'abc' }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ none is sameas none "
     "}}{{ 1 is eq 1 }}{{ 1 is ne 1 }}{{ 1 is lt 2 }}{{ 1 is gt 2 }}{{ 'upper' is filter }}{{ "
     "'odd' is test }}",
     "{}", "TrueFalseTrueTrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrueTrueFalseTrueFalseTrueTrue"},
    {"is_not", "{{ x is not none }} {{ x is not defined }} {{ y is not none }}",
     "{\"x\": 1, \"y\": null}", "True False False"},
    {"filter_trim_length",
     "[{{ '  a b  ' | trim }}][{{ 'xxaxx' | trim('x') }}] {{ 'h\xc3"
     "\xa9"
     "llo' | length }} {{ [1, 2] | count }} {{ {'a': 1} | length }}",
     "{}", "[a b][a] 5 2 1"},
    {"filter_tojson",
     "{{ v | tojson }}|{{ '\xc3"
     "\xa9"
     "\"\\n' | tojson }}|{{ none | tojson }}|{{ [1.0, 2] | tojson }}|{{ {} | tojson }}",
     "{\"v\": {\"b\": [1, 2.5, null, true, \"x\"], \"a\": {\"nested\": \"\xc3"
     "\xbc"
     "\"}}}",
     "{\"b\": [1, 2.5, null, true, \"x\"], \"a\": {\"nested\": \"\xc3"
     "\xbc"
     "\"}}|\"\xc3"
     "\xa9"
     "\\\"\\n\"|null|[1.0, 2]|{}"},
    {"filter_tojson_indent",
     "{{ v | tojson(indent=4) }}\n{{ [] | tojson(indent=2) }}\n{{ v | tojson(indent=2, "
     "sort_keys=true) }}",
     "{\"v\": {\"name\": \"f\", \"parameters\": {\"type\": \"object\", \"required\": [\"a\"], "
     "\"properties\": {\"a\": {\"type\": \"string\"}}}, \"empty\": {}}}",
     "{\n    \"name\": \"f\",\n    \"parameters\": {\n        \"type\": \"object\",\n        "
     "\"required\": [\n            \"a\"\n        ],\n        \"properties\": {\n            "
     "\"a\": {\n                \"type\": \"string\"\n            }\n        }\n    },\n    "
     "\"empty\": {}\n}\n[]\n{\n  \"empty\": {},\n  \"name\": \"f\",\n  \"parameters\": {\n    "
     "\"properties\": {\n      \"a\": {\n        \"type\": \"string\"\n      }\n    },\n    "
     "\"required\": [\n      \"a\"\n    ],\n    \"type\": \"object\"\n  }\n}"},
    {"filter_tojson_options",
     "{{ v | tojson(ensure_ascii=true) }} {{ v | tojson(separators=(',', ':')) }}",
     "{\"v\": {\"k\": \"\xc3"
     "\xa9"
     "\xf0"
     "\x9f"
     "\x98"
     "\x80"
     "\", \"l\": [1, 2]}}",
     "{\"k\": \"\\u00e9\\ud83d\\ude00\", \"l\": [1, 2]} {\"k\":\"\xc3"
     "\xa9"
     "\xf0"
     "\x9f"
     "\x98"
     "\x80"
     "\",\"l\":[1,2]}"},
    {"filter_string",
     "{{ d | string }} {{ none | string }} {{ [1, 'a'] | string }} {{ 1.0 | string }} {{ 'x' | "
     "string }}|{{ u | string }}|",
     "{\"d\": {\"a\": 1, \"b\": null, \"c\": \"it's\"}}",
     "{'a': 1, 'b': None, 'c': \"it's\"} None [1, 'a'] 1.0 x||"},
    {"filter_list",
     "{{ 'abc' | list }} {{ {'a': 1, 'b': 2} | list }} {{ (1, 2) | list }} {{ range(3) | list }}",
     "{}", "['a', 'b', 'c'] ['a', 'b'] [1, 2] [0, 1, 2]"},
    {"filter_selectattr",
     "{{ messages | selectattr('role', 'equalto', 'user') | list | length }} {{ messages | "
     "selectattr('tool_calls') | map(attribute='role') | list }} {{ messages | rejectattr('role', "
     "'equalto', 'system') | map(attribute='role') | join(', ') }} {{ messages | "
     "selectattr('role', 'in', ['user', 'system']) | list | length }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "
     "\"content\": \" Hi \"}, {\"role\": \"assistant\", \"content\": \"Yo\", \"tool_calls\": "
     "[{\"function\": {\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": [1, 2.5, null, "
     "true]}}}]}]}",
     "1 ['assistant'] user, assistant 2"},
    {"filter_map",
     "{{ messages | map(attribute='role') | list }} {{ ['a', 'b'] | map('upper') | list }} {{ [1, "
     "2] | map('string') | join('-') }} {{ [{'a': 1}, {}] | map(attribute='a', default=0) | list "
     "}} {{ [[1, 2], [3, 4]] | map(attribute='1') | list }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "
     "\"content\": \" Hi \"}, {\"role\": \"assistant\", \"content\": \"Yo\", \"tool_calls\": "
     "[{\"function\": {\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": [1, 2.5, null, "
     "true]}}}]}]}",
     "['system', 'user', 'assistant'] ['A', 'B'] 1-2 [1, 0] [2, 4]"},
    {"filter_select_reject",
     "{{ [0, 1, 2, 3, '', 'x'] | select | list }} {{ [1, 2, 3, 4] | reject('even') | list }} {{ "
     "[1, 2, 3] | reject('equalto', 2) | list }} {{ [1, 2, 3, 4] | select('divisibleby', 2) | list "
     "}}",
     "{}", "[1, 2, 3, 'x'] [1, 3] [1, 3] [2, 4]"},
    {"filter_join",
     "{{ [1, 2, 3] | join(', ') }} {{ ['a', 'b'] | join }} {{ messages | join('|', "
     "attribute='role') }} {{ 'abc' | join('.') }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "
     "\"content\": \" Hi \"}, {\"role\": \"assistant\", \"content\": \"Yo\", \"tool_calls\": "
     "[{\"function\": {\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": [1, 2.5, null, "
     "true]}}}]}]}",
     "1, 2, 3 ab system|user|assistant a.b.c"},
    {"filter_case",
     "{{ 'hello wORLD-foo (bar)' | title }} {{ 'abc' | upper }} {{ 'ABC' | lower }} {{ 'hELLO' | "
     "capitalize }} {{ '\xc3"
     "\xa9"
     "a' | upper }}",
     "{}",
     "Hello World-Foo (Bar) ABC abc Hello \xc3"
     "\x89"
     "A"},
    {"filter_first_last",
     "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | last }} [{{ [] | first }}] {{ "
     "{'a': 1, 'b': 2} | first }}",
     "{}", "1 3 c [] a"},
    {"filter_int_float",
     "{{ '12' | int + 1 }} {{ 'x' | int }} {{ '3.7' | int }} {{ 3.9 | int }} {{ ' 7 ' | int }} {{ "
     "'1_000' | int }} {{ 'ff' | int(base=16) }} {{ 'x' | int(5) }} {{ none | int }} {{ '2.5' | "
     "float }} {{ 'abc' | float }} {{ 1 | float }} {{ true | int }}",
     "{}", "13 0 3 3 7 1000 255 5 0 2.5 0.0 1.0 1"},
    {"filter_default",
     "{{ u | default('d') }} {{ none | default('d') }} [{{ '' | default('d') }}] {{ '' | "
     "default('d', true) }} {{ 0 | d('zero', boolean=true) }} {{ 'set' | default('d') }}",
     "{}", "d None [] d zero set"},
    {"filter_safe_items",
     "{{ '<b>' | safe }} {% for k, v in {'x': 1, 'y': [2]} | items %}{{ k }}{{ v }}{% endfor %} {{ "
     "u | items | list }}",
     "{}", "<b> x1y[2] []"},
    {"filter_sort_unique",
     "{{ [3, 1, 2] | sort }} {{ ['b', 'A', 'a', 'C'] | sort }} {{ ['b', 'A'] | "
     "sort(case_sensitive=true) }} {{ [3, 1, 2] | sort(reverse=true) }} {{ [{'n': 'b'}, {'n': "
     "'a'}] | sort(attribute='n') | map(attribute='n') | join }} {{ ['a', 'A', 'b', 'a'] | unique "
     "| list }} {{ [1, 1.0, true, 2] | unique | list }}",
     "{}", "[1, 2, 3] ['A', 'a', 'b', 'C'] ['A', 'b'] [3, 2, 1] ab ['a', 'b'] [1, 2]"},
    {"filter_misc",
     "{{ -3 | abs }} {{ [1, 2, 3] | sum }} {{ [{'a': 1}, {'a': 2}] | sum(attribute='a') }} {{ [3, "
     "1, 2] | max }} {{ [3, 1, 2] | min }} {{ ['b', 'A'] | max }} {{ [1, 2] | reverse | list }} {{ "
     "'abc' | reverse }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 2.1 | "
     "round(0, 'ceil') }} {{ 5 | round }} {{ 'a b  c' | wordcount }} {{ 'aXbX' | replace('X', '-') "
     "}} {{ 'aaa' | replace('a', 'b', 2) }}",
     "{}", "3 6 3 3 1 b [2, 1] cba 2.0 4.0 2.67 3.0 5 3 a-b- bba"},
    {"filter_dictsort_escape_indent",
     "{{ {'b': 2, 'A': 1, 'a': 0} | dictsort }} {{ {'b': 1, 'a': 2} | dictsort(by='value', "
     "reverse=true) }} {{ '<a href=\"x\">&\\'' | e }}|{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | "
     "indent(2, true) }}|{{ 'a\n\nb' | indent(width='> ', blank=true) }}",
     "{}",
     "[('A', 1), ('a', 0), ('b', 2)] [('a', 2), ('b', 1)] &lt;a href=&#34;x&#34;&gt;&amp;&#39;|a\n "
     " b\n\n  c|  a\n  b|a\n> \n> b"},
    {"filter_attr", "{{ 'x' | attr('upper') is callable }}|{{ {'a': 1} | attr('a') }}|", "{}",
     "True||"},
    {"method_strip",
     "[{{ '  a  '.strip() }}][{{ '  a  '.lstrip() }}][{{ '  a  '.rstrip() }}][{{ "
     "'xxaxx'.strip('x') }}][{{ '--a'.lstrip('-') }}][{{ 'a\\n'.rstrip('\\n') }}]",
     "{}", "[a][a  ][  a][a][a][a]"},
    {"method_split",
     "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b "
     "c'.rsplit(' ', 1) }} {{ content.split('</think>')[-1] }} {{ 'x'.split(',') }} {{ "
     "'a\\nb\\r\\nc'.splitlines() }}",
     "{\"content\": \"<think>hmm</think>answer\"}",
     "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b c'] ['a b', 'c'] answer ['x'] ['a', 'b', 'c']"},
    {"method_predicates",
     "{{ 'abc'.startswith('ab') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }} "
     "{{ 'abc'.endswith('x') }} {{ '123'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ "
     "'ab'.islower() }} {{ 'AB'.isupper() }}",
     "{}", "True True True False True True True True True"},
    {"method_case_replace",
     "{{ 'hello wORLD'.title() }} {{ 'they\\'re'.title() }} {{ 'abc'.upper() }} {{ 'ABC'.lower() "
     "}} {{ 'hELLO'.capitalize() }} {{ 'aaa'.replace('a', 'b') }} {{ 'aaa'.replace('a', 'b', 1) }} "
     "{{ 'abc'.replace('', '-') }} {{ ', '.join(['a', 'b']) }} {{ 'hello'.find('l') }} {{ "
     "'hello'.count('l') }}",
     "{}", "Hello World They'Re ABC abc Hello bbb baa -a-b-c- a, b 2 2"},
    {"method_dict",
     "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d.items() | list }} {{ "
     "d.keys() | list }} {{ d.values() | list }} {% for k, v in d.items() %}{{ k }}{{ v }}{% "
     "endfor %}",
     "{\"d\": {\"a\": 1, \"b\": 2}}", "1 None dflt [('a', 1), ('b', 2)] ['a', 'b'] [1, 2] a1b2"},
    {"method_list", "{{ [1, 2, 1].count(1) }} {{ ['a', 'b'].index('b') }}", "{}", "2 1"},
    {"range_forms",
     "{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(0, 10, 3) | list }} {{ range(5, 0, "
     "-2) | list }} {{ range(0) | list }} {% for i in range(2) %}{{ i }}{% endfor %}",
     "{}", "[0, 1, 2] [1, 2, 3] [0, 3, 6, 9] [5, 3, 1] [] 01"},
    {"dict_global", "{{ dict(a=1, b='x') }} {{ dict({'k': 1}, z=2) }}", "{}",
     "{'a': 1, 'b': 'x'} {'k': 1, 'z': 2}"},
    {"strftime_now", "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %A') }}", "{}",
     "15 Jan 2026 2026-01-15 Thursday"},
    {"format_filter",
     "{{ '%s-%05.1f|%x|%-4d|%+d|%#o' | format('a', 2.25, 255, 7, 3, 8) }} {{ '%(k)s=%(n)03d' | "
     "format(k='v', n=7) }}",
     "{}", "a-002.2|ff|7   |+3|0o10 v=007"},
    {"percent_operator",
     "{{ '%s and %s' % ('a', 1) }} {{ '%d%%' % 50 }} {{ '%(a)s' % {'a': 1} }} {{ '%r' % 'q' }} {{ "
     "'%.2e' % 12345.678 }} {{ '%5s|%-5s|' % ('ab', 'cd') }} {{ '%c%c' % (72, 'i') }}",
     "{}", "a and 1 50% 1 'q' 1.23e+04    ab|cd   | Hi"},
    {"generators_are_truthy",
     "{% if messages | selectattr('role', 'equalto', 'nobody') %}always{% endif %}|{% if messages "
     "| selectattr('role', 'equalto', 'nobody') | list %}never{% endif %}|{{ messages | "
     "map(attribute='role') | first }}|{{ (messages | selectattr('role') | list)[1].role }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "
     "\"content\": \" Hi \"}, {\"role\": \"assistant\", \"content\": \"Yo\", \"tool_calls\": "
     "[{\"function\": {\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": [1, 2.5, null, "
     "true]}}}]}]}",
     "always||system|user"},
    {"scoping_later_assignment_hides_outer",
     "{% for i in [1] %}[{{ s }}]{% endfor %}{% set s = 'new' %}[{{ s }}]", "{\"s\": \"old\"}",
     "[][new]"},
    {"scoping_macro_sees_later_assignment",
     "{% macro m() %}[{{ s }}]{% endmacro %}{{ m() }}{% set s = 'new' %}{{ m() }}",
     "{\"s\": \"old\"}", "[][new]"},
    {"scoping_conditional_assignment",
     "{% for i in [1] %}[{{ s }}]{% endfor %}{% if false %}{% set s = 'x' %}{% endif %}[{{ s }}]",
     "{\"s\": \"old\"}", "[old][old]"},
    {"scoping_read_before_assignment",
     "[{{ s }}]{% set s = 'new' %}{% for i in [1] %}[{{ s }}]{% endfor %}", "{\"s\": \"old\"}",
     "[old][new]"},
    {"scoping_inner_loop",
     "{% set s = 'top' %}{% for i in [1, 2] %}{% for j in [1] %}[{{ s }}]{% endfor %}{% set s = "
     "'loop' %}[{{ s }}]{% endfor %}[{{ s }}]",
     "{}", "[top][loop][top][loop][top]"},
    {"for_else_after_break",
     "{% for x in [1, 2] %}{{ x }}{% break %}{% else %}E{% endfor %}|{% for x in [1, 2] %}{% if x "
     "== 1 %}{% continue %}{% endif %}{{ x }}{% else %}E{% endfor %}",
     "{}", "1E|2"},
    {"block_scopes",
     "{% filter upper %}{% set x = 1 %}{% endfilter %}[{{ x }}]{% set b %}{% set y = 1 %}{% endset "
     "%}[{{ y }}]",
     "{}", "[][]"},
    {"break_inside_set_block",
     "{% for x in [1, 2, 3] %}{% set b %}<{{ x }}>{% if x == 2 %}{% break %}{% endif %}{% endset "
     "%}{{ b }}{% endfor %}",
     "{}", "<1>"},
    {"odd_subscripts", "[{{ d[1, 2] }}][{{ d[] }}][{{ d['k'] }}]", "{\"d\": {\"k\": \"v\"}}",
     "[][][v]"},
    {"unicode_case_and_space",
     "{{ '\xc3"
     "\x80"
     "\xc3"
     "\x89"
     "\xc3"
     "\x8e"
     "' | lower }} {{ '\xc3"
     "\xa0"
     "\xc3"
     "\xa9"
     "\xc3"
     "\xae"
     " \xcf"
     "\x89"
     "\xcf"
     "\x83"
     "' | upper }} {{ '\xc3"
     "\xb1"
     "and\xc3"
     "\xba"
     "' | title }} [{{ '\xe3"
     "\x80"
     "\x80"
     " x \xc2"
     "\xa0"
     "' | trim }}] {{ '\xc3"
     "\xa9"
     "' | length }} {{ 'a\xc3"
     "\xa9"
     "\xf0"
     "\x9f"
     "\x98"
     "\x80"
     "'[1] }} {{ 'a\xc3"
     "\xa9"
     "\xf0"
     "\x9f"
     "\x98"
     "\x80"
     "' | reverse }}",
     "{}",
     "\xc3"
     "\xa0"
     "\xc3"
     "\xa9"
     "\xc3"
     "\xae"
     " \xc3"
     "\x80"
     "\xc3"
     "\x89"
     "\xc3"
     "\x8e"
     " \xce"
     "\xa9"
     "\xce"
     "\xa3"
     " \xc3"
     "\x91"
     "and\xc3"
     "\xba"
     " [x] 1 \xc3"
     "\xa9"
     " \xf0"
     "\x9f"
     "\x98"
     "\x80"
     "\xc3"
     "\xa9"
     "a"},
    {"tojson_ensure_ascii_and_escapes",
     "{{ '\\u2028\\x1f\\x7f' | tojson }} {{ '\\u2028' | tojson(ensure_ascii=true) }} {{ [1e100, "
     "-0.0, 1e-7] | tojson }}",
     "{}",
     "\"\xe2"
     "\x80"
     "\xa8"
     "\\u001f\x7f"
     "\" \"\\u2028\" [1e+100, -0.0, 1e-07]"},
    {"big_and_duplicate_mappings",
     "{{ d.k57 }} {{ 'k99' in d }} {{ 'k100' in d }} {{ d | length }} {{ d['k0'] + d.k99 }} {{ "
     "{'a': 1, 'b': 2, 'a': 3} }} {% set e = dict(d, extra=1) %}{{ e | length }} {{ e.extra }} {{ "
     "e.k42 }}",
     "{\"d\": {\"k0\": 0, \"k1\": 1, \"k2\": 2, \"k3\": 3, \"k4\": 4, \"k5\": 5, \"k6\": 6, "
     "\"k7\": 7, \"k8\": 8, \"k9\": 9, \"k10\": 10, \"k11\": 11, \"k12\": 12, \"k13\": 13, "
     "\"k14\": 14, \"k15\": 15, \"k16\": 16, \"k17\": 17, \"k18\": 18, \"k19\": 19, \"k20\": 20, "
     "\"k21\": 21, \"k22\": 22, \"k23\": 23, \"k24\": 24, \"k25\": 25, \"k26\": 26, \"k27\": 27, "
     "\"k28\": 28, \"k29\": 29, \"k30\": 30, \"k31\": 31, \"k32\": 32, \"k33\": 33, \"k34\": 34, "
     "\"k35\": 35, \"k36\": 36, \"k37\": 37, \"k38\": 38, \"k39\": 39, \"k40\": 40, \"k41\": 41, "
     "\"k42\": 42, \"k43\": 43, \"k44\": 44, \"k45\": 45, \"k46\": 46, \"k47\": 47, \"k48\": 48, "
     "\"k49\": 49, \"k50\": 50, \"k51\": 51, \"k52\": 52, \"k53\": 53, \"k54\": 54, \"k55\": 55, "
     "\"k56\": 56, \"k57\": 57, \"k58\": 58, \"k59\": 59, \"k60\": 60, \"k61\": 61, \"k62\": 62, "
     "\"k63\": 63, \"k64\": 64, \"k65\": 65, \"k66\": 66, \"k67\": 67, \"k68\": 68, \"k69\": 69, "
     "\"k70\": 70, \"k71\": 71, \"k72\": 72, \"k73\": 73, \"k74\": 74, \"k75\": 75, \"k76\": 76, "
     "\"k77\": 77, \"k78\": 78, \"k79\": 79, \"k80\": 80, \"k81\": 81, \"k82\": 82, \"k83\": 83, "
     "\"k84\": 84, \"k85\": 85, \"k86\": 86, \"k87\": 87, \"k88\": 88, \"k89\": 89, \"k90\": 90, "
     "\"k91\": 91, \"k92\": 92, \"k93\": 93, \"k94\": 94, \"k95\": 95, \"k96\": 96, \"k97\": 97, "
     "\"k98\": 98, \"k99\": 99}}",
     "57 True False 100 99 {'a': 3, 'b': 2} 101 1 42"},
    {"whitespace_control_unicode",
     "a\xe3"
     "\x80"
     "\x80"
     "\xc2"
     "\xa0"
     "{%- if true -%}\xe2"
     "\x80"
     "\x83"
     " b {%- endif %}|{{ 'x' }}",
     "{}", "ab|x"},
    {"literal_braces", "{{ '{{' }} {{ '}}' }} {{ '{%' ~ '%}' }} {{ {'a': {'b': 1}} }}", "{}",
     "{{ }} {%%} {'a': {'b': 1}}"},
    {"macro_caller_undefined",
     "{% macro m() %}{% if caller is defined %}c{% else %}none{% endif %}{% endmacro %}{{ m() "
     "}}|{% call m() %}x{% endcall %}",
     "{}", "none|c"},
};

class FeatureTest : public ::testing::TestWithParam<Case> {};

TEST_P(FeatureTest, MatchesJinja2) {
  const Case& c = GetParam();
  EXPECT_EQ(render(c.source, c.variables), c.expected) << c.source;
}

INSTANTIATE_TEST_SUITE_P(Jinja, FeatureTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

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
}  // namespace llm
