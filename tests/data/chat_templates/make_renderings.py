#!/usr/bin/env python3
"""Renders cases of templates.json with Jinja2 set up as transformers' apply_chat_template sets
it up (see README.md, "How the expected strings were made"), and appends them to
renderings.jsonl.

    make_renderings.py TEMPLATE_ID...   append every case for these templates
    make_renderings.py --check          re-render every stored record, report mismatches

The conversations are those of the README's standard cases, taken from the stored
qwen2.5-instruct records (that template has all ten). Needs jinja2 (Python 3.11,
Jinja2 3.1.6 made the stored strings).
"""
import json
import sys
from datetime import datetime
from pathlib import Path

import jinja2
import jinja2.ext
import jinja2.sandbox

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates.json"
RENDERINGS = HERE / "renderings.jsonl"
CASE_SOURCE = "qwen2.5-instruct"  # the template whose records hold every standard case
TOOL_CASES = ("tools", "tool_call_roundtrip")

# Extra template variables (the record's optional "kwargs"), per template: each entry adds
# variants of the standard cases named "<case>/<suffix>".
KWARG_VARIANTS = {
    "qwen3": [("enable_thinking_true", {"enable_thinking": True}),
              ("enable_thinking_false", {"enable_thinking": False})],
}


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def environment():
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime(2026, 1, 15).strftime(fmt)
    return env


def render(env, entry, record):
    variables = dict(record.get("kwargs") or {})
    variables.update(messages=record["messages"], tools=record["tools"],
                     add_generation_prompt=record["add_generation_prompt"])
    for token in ("bos_token", "eos_token"):
        if record[token] is not None:
            variables[token] = record[token]
    try:
        return {"expected": env.from_string(entry["chat_template"]).render(**variables)}
    except jinja2.exceptions.TemplateError as e:
        return {"expected_error": e.message, "error_type": type(e).__name__}
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as e:
        # A runtime error inside the template (transformers raises it as is): the message is
        # Python's, so a renderer need only fail, not match it.
        return {"expected_error": str(e), "error_type": type(e).__name__}


def load_records():
    return [json.loads(line) for line in RENDERINGS.read_text(encoding="utf-8").splitlines()
            if line]


def make(env, templates, template_id, standard):
    entry = templates[template_id]
    uses_tools = "tools" in entry["chat_template"]
    variants = [("", None)] + KWARG_VARIANTS.get(template_id, [])
    out = []
    for suffix, kwargs in variants:
        for case in standard:
            if case["case"] in TOOL_CASES and not uses_tools:
                continue
            record = {"model": entry["model"], "template_id": template_id,
                      "case": case["case"] + ("/" + suffix if suffix else ""),
                      "messages": case["messages"],
                      "add_generation_prompt": case["add_generation_prompt"],
                      "tools": case["tools"] if case["case"] in TOOL_CASES else None,
                      "bos_token": entry["bos_token"], "eos_token": entry["eos_token"]}
            if kwargs is not None:
                record["kwargs"] = kwargs
            record.update(render(env, entry, record))
            out.append(record)
    return out


def main(argv):
    env = environment()
    templates = json.loads(TEMPLATES.read_text(encoding="utf-8"))
    records = load_records()
    if argv == ["--check"]:
        bad = 0
        for r in records:
            got = render(env, templates[r["template_id"]], r)
            want = {k: r[k] for k in ("expected", "expected_error", "error_type") if k in r}
            if got != want:
                bad += 1
                print("MISMATCH", r["template_id"], r["case"])
        print(f"{len(records)} records, {bad} mismatches")
        return 1 if bad else 0
    standard = [r for r in records if r["template_id"] == CASE_SOURCE]
    existing = {r["template_id"] for r in records}
    new = []
    for template_id in argv:
        if template_id in existing:
            sys.exit(f"{template_id} already has records")
        new += make(env, templates, template_id, standard)
    with RENDERINGS.open("a", encoding="utf-8") as f:
        for r in new:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"appended {len(new)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
