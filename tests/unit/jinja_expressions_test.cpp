// Jinja2 expressions beyond the goldens: operators, literals, tests, filters, methods,
// globals and the scoping corners real chat templates rely on.
// The expected strings were produced by Python's Jinja2 3.1.6 configured as transformers
// configures it (see tests/data/chat_templates/README.md).
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/jinja_test_support.h"

namespace llm::jinja_test {
namespace {

const Case kCases[] = {
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

class ExpressionTest : public ::testing::TestWithParam<Case> {};

TEST_P(ExpressionTest, MatchesJinja2) {
  const Case& c = GetParam();
  EXPECT_EQ(render(c.source, c.variables), c.expected) << c.source;
}

INSTANTIATE_TEST_SUITE_P(Jinja, ExpressionTest, ::testing::ValuesIn(kCases), case_name);

}  // namespace
}  // namespace llm::jinja_test
