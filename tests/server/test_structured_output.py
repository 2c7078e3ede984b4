"""Structured output through llm-serve and the openai SDK: every completion that finishes with
"stop" parses and validates against its schema (the jsonschema package, draft 2020-12, with its
format checker), for 32 hand-written schemas and the JSON-Schema-Test-Suite's schemas that fit
the supported subset, each under greedy, temperature 1.0 and top-p 0.9 sampling. Schemas outside
the subset must be refused with a 400 naming response_format. Run with -s for the table.

The suite ships in the jsonschema sdist (fetched once into .deps/ by scripts/fetch_sdist.py,
pinned by hash)."""
import concurrent.futures
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import openai
import pytest

from conftest import ROOT

SUITE_VERSION, SUITE_SHA256 = "4.26.0", "0c26707e2efad8aa1bfc5b7ce170f3fccc2e4918ff85989ba9ffa9facb2be326"
# The suite's files whose keywords the subset covers (others test what the subset refuses).
SUITE_FILES = ["type", "properties", "required", "additionalProperties", "items", "prefixItems",
               "minItems", "maxItems", "enum", "const", "anyOf", "oneOf", "ref", "defs", "minLength",
               "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
               "format", "boolean_schema", "minProperties", "maxProperties", "allOf", "uniqueItems",
               "multipleOf", "not", "if-then-else", "contains", "patternProperties"]

ADDRESS = {"type": "object", "properties": {
    "street": {"type": "string", "maxLength": 20}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
    "required": ["street", "zip"], "additionalProperties": False}
SCHEMAS = {
    "string": {"type": "string", "maxLength": 16},
    "integer": {"type": "integer"},
    "bounded integer": {"type": "integer", "minimum": -5, "maximum": 5},
    "exclusive number": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "boolean": {"type": "boolean"},
    "null": {"type": "null"},
    "enum": {"enum": ["red", "green", "blue", 3, None]},
    "const": {"const": {"ok": True}},
    "flat object": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10},
                                                     "age": {"type": "integer", "minimum": 0}},
                    "required": ["name", "age"]},
    "optional properties": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}}},
    "no extra properties": {"type": "object", "properties": {"x": {"type": "number"}},
                            "required": ["x"], "additionalProperties": False},
    "typed additional properties": {"type": "object", "additionalProperties": {"type": "integer"},
                                    "maxProperties": 3},
    "array of strings": {"type": "array", "items": {"type": "string", "maxLength": 6}, "maxItems": 4},
    "bounded array": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3},
    "tuple": {"type": "array", "prefixItems": [{"type": "string", "maxLength": 5}, {"type": "integer"}],
              "items": False},
    "string lengths": {"type": "string", "minLength": 3, "maxLength": 5},
    "pattern": {"type": "string", "pattern": "^[A-Z][a-z]{1,6}$"},
    "date": {"type": "string", "format": "date"},
    "time": {"type": "string", "format": "time"},
    "uuid": {"type": "string", "format": "uuid"},
    "email": {"type": "string", "format": "email"},
    "ipv4": {"type": "string", "format": "ipv4"},
    "nullable type list": {"type": ["string", "null"], "maxLength": 8},
    "nullable (OpenAPI)": {"type": "object", "properties": {"n": {"type": "integer", "nullable": True}},
                           "required": ["n"]},
    "anyOf": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 4}]},
    "oneOf by type": {"oneOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "integer"}, "maxItems": 2}]},
    "oneOf by tag": {"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}},
         "required": ["kind", "r"], "additionalProperties": False},
        {"type": "object", "properties": {"kind": {"const": "square"}, "side": {"type": "integer"}},
         "required": ["kind", "side"], "additionalProperties": False}]},
    "$ref and $defs": {"$defs": {"address": ADDRESS}, "type": "object",
                       "properties": {"home": {"$ref": "#/$defs/address"}, "work": {"$ref": "#/$defs/address"}},
                       "required": ["home"]},
    "recursive tree": {"$defs": {"node": {"type": "object", "properties": {
        "v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}},
        "required": ["v", "kids"], "additionalProperties": False}}, "$ref": "#/$defs/node"},
    "nested arrays of objects": {"type": "object", "properties": {"rows": {"type": "array", "maxItems": 3, "items": {
        "type": "object", "properties": {"id": {"type": "integer", "minimum": 1},
                                         "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2}},
        "required": ["id", "tags"], "additionalProperties": False}}}, "required": ["rows"]},
    "event (anyOf + formats)": {"type": "object", "properties": {
        "when": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
        "who": {"type": "array", "items": {"type": "string", "format": "email"}, "maxItems": 2},
        "id": {"type": "string", "format": "uuid"}}, "required": ["when", "who", "id"],
        "additionalProperties": False},
    "tool call shape": {"type": "object", "properties": {
        "name": {"enum": ["get_weather", "get_time"]},
        "arguments": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                                                       "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                      "required": ["city"], "additionalProperties": False}},
        "required": ["name", "arguments"], "additionalProperties": False},
}
SETTINGS = {"greedy": dict(temperature=0), "temperature 1.0": dict(temperature=1.0, seed=7),
            "top-p 0.9": dict(temperature=1.0, top_p=0.9, seed=8)}
PROMPT = [{"role": "user", "content": "Once upon a time there was a little dog."}]


def suite_schemas():
    """(name, schema) of every test group of SUITE_FILES."""
    deps = ROOT / ".deps"
    suite = deps / f"jsonschema-{SUITE_VERSION}" / "json" / "tests" / "draft2020-12"
    if not suite.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_sdist.py"), "jsonschema", SUITE_VERSION,
                        SUITE_SHA256, str(deps)], check=True)
    out = []
    for name in SUITE_FILES:
        for i, group in enumerate(json.loads((suite / f"{name}.json").read_text())):
            out.append((f"suite {name} #{i}", group["schema"]))
    return out


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=300)


def run(client, schema, setting):
    try:
        r = client.chat.completions.create(
            model="stories", messages=PROMPT, max_tokens=96, **SETTINGS[setting],
            response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}})
    except openai.BadRequestError as e:
        return "refused", e
    choice = r.choices[0]
    if choice.finish_reason != "stop":
        assert choice.finish_reason == "length", choice.finish_reason
        return "length", choice.message.content
    return "stop", choice.message.content


def check(schema, text):
    """None when TEXT parses and validates against SCHEMA, else why not."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        return f"does not parse: {e}"
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = list(validator.iter_errors(value))
    return errors[0].message if errors else None


def test_every_completion_that_stops_validates(client):
    cases = list(SCHEMAS.items()) + suite_schemas()
    jobs = [(name, schema, setting) for name, schema in cases for setting in SETTINGS]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda job: run(client, job[1], job[2]), jobs))
    table, failures, stopped, refused_own = {}, [], 0, []
    for (name, schema, setting), (outcome, payload) in zip(jobs, results):
        if outcome == "refused":
            assert payload.status_code == 400 and payload.body["param"] == "response_format", payload
            if name in SCHEMAS:
                refused_own.append((name, str(payload)))
            table.setdefault(name, {})[setting] = "refused"
            continue
        if outcome == "stop":
            stopped += 1
            why = check(schema, payload)
            if why:
                failures.append((name, setting, payload, why))
        table.setdefault(name, {})[setting] = outcome if outcome != "stop" else ("valid" if not check(schema, payload) else "INVALID")
    print_table(table)
    assert not refused_own, refused_own
    assert not failures, failures
    # Not vacuous: most accepted schemas end within 96 tokens even on this tiny model.
    accepted = sum(outcome != "refused" for outcome, _ in results)
    assert accepted >= len(SCHEMAS) * len(SETTINGS) and stopped >= accepted // 2, (stopped, accepted)


def print_table(table):
    settings = list(SETTINGS)
    print("\n| schema | " + " | ".join(settings) + " |\n|---|" + "---|" * len(settings))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(row.get(s, "") for s in settings) + " |")
    counts = {}
    for row in table.values():
        for s, outcome in row.items():
            counts.setdefault(s, {}).setdefault(outcome, 0)
            counts[s][outcome] += 1
    print("totals:", json.dumps(counts))


def test_unsupported_schema_names_the_keyword(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="stories", messages=PROMPT, max_tokens=8, response_format={
            "type": "json_schema", "json_schema": {"name": "s", "schema": {
                "type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}}}})
    assert e.value.body["param"] == "response_format"
    assert "#/properties/tags/uniqueItems" in e.value.body["message"]


def test_json_object_on_both_endpoints_and_streaming(client, server):
    r = client.chat.completions.create(model="stories", messages=PROMPT, max_tokens=200, temperature=0,
                                       response_format={"type": "json_object"})
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(r.choices[0].message.content), dict)
    status, body = server.json("POST", "/v1/completions", {
        "prompt": "Once", "max_tokens": 40, "temperature": 0, "response_format": {"type": "json_object"}})
    assert status == 200 and body["choices"][0]["text"].startswith("{")
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="stories", messages=PROMPT, max_tokens=200, temperature=0, stream=True,
        response_format={"type": "json_object"}) if c.choices)
    assert streamed == r.choices[0].message.content


@pytest.mark.parametrize("extra,expect", [
    ({"guided_choice": ["yes", "no"]}, lambda t: t in ("yes", "no")),
    ({"structured_outputs": {"choice": ["left", "right"]}}, lambda t: t in ("left", "right")),
    ({"guided_regex": "[0-9]{3}-[0-9]{2}"}, lambda t: len(t) == 6 and t[3] == "-" and (t[:3] + t[4:]).isdigit()),
    ({"guided_grammar": 'root ::= "(" [a-c] [a-c]? [a-c]? ")"'}, lambda t: t[0] == "(" and t[-1] == ")" and set(t[1:-1]) <= set("abc")),
])
def test_vllm_guided_fields(server, extra, expect):
    status, body = server.json("POST", "/v1/completions", {
        "prompt": "Once upon a time", "max_tokens": 40, "temperature": 1.0, "seed": 3, **extra})
    assert status == 200, body
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and expect(choice["text"]), choice


@pytest.mark.parametrize("body,param", [
    ({"response_format": {"type": "yaml"}}, "response_format"),
    ({"response_format": {"type": "json_schema"}}, "response_format"),
    ({"guided_regex": "(unclosed"}, "guided_regex"),
    ({"guided_choice": "yes"}, "guided_choice"),
    ({"guided_json": {"type": "object"}, "guided_regex": "a+"}, "guided_regex"),
    ({"structured_outputs": {"xml": "<a/>"}}, "structured_outputs.xml"),
    ({"response_format": {"type": "json_object"}, "ignore_eos": True}, "ignore_eos"),
])
def test_malformed_constraints_are_400_and_the_server_keeps_serving(server, body, param):
    status, reply = server.json("POST", "/v1/completions", {"prompt": "Once", "max_tokens": 4, **body})
    assert status == 400 and reply["error"]["param"] == param, reply
    status, _ = server.json("POST", "/v1/completions", {"prompt": "Once", "max_tokens": 4})
    assert status == 200
