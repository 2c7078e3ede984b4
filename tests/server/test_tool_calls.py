"""Tool calling through llm-serve and the official openai SDK, on tiny random-weight checkpoints
with real tokenizers and real chat templates: Qwen2.5's (hermes, detected from the template),
Llama 3.2's (llama3_json, detected) and Qwen2.5's again read with --tool-call-parser mistral (no
reference template writes Mistral's [TOOL_CALLS] with tools; the parser and the forced grammar
still are Mistral's). A random model calls tools only when tool_choice forces it through the
grammar, so that is what these round trips use; their arguments must validate against the tool's
parameters, and streamed deltas must add up to the whole response."""
import json

import jsonschema
import openai
import pytest
from tokenizers import Tokenizer

from conftest import Server
from tiny_checkpoint import DATA, make_checkpoint

TEMPLATES = json.loads((DATA / "chat_templates" / "templates.json").read_text())
RENDERINGS = [json.loads(line) for line in (DATA / "chat_templates" / "renderings.jsonl").read_text().splitlines()]

WEATHER = {"type": "object", "properties": {"city": {"enum": ["Paris", "Tokyo", "Lima"]},
                                            "days": {"type": "integer", "minimum": 1, "maximum": 7}},
           "required": ["city", "days"], "additionalProperties": False}
CLOCK = {"type": "object", "properties": {"tz": {"enum": ["UTC", "CET"]}}, "required": ["tz"]}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather forecast",
                                           "parameters": WEATHER}},
         {"type": "function", "function": {"name": "get_time", "parameters": CLOCK}}]
SCHEMAS = {"get_weather": WEATHER, "get_time": CLOCK}
MESSAGES = [{"role": "user", "content": "What is the weather in Paris for the next 3 days?"}]

# (id, tokenizer, template, extra flags, expected parser)
SETUPS = [("hermes", "qwen2-tokenizer", "qwen2.5-instruct", []),
          ("llama3_json", "llama3-tokenizer", "llama3.2-instruct", []),
          ("mistral", "qwen2-tokenizer", "qwen2.5-instruct", ["--tool-call-parser", "mistral"])]


@pytest.fixture(scope="module", params=SETUPS, ids=lambda s: s[0])
def served(request, tmp_path_factory):
    name, tokenizer, template_id, flags = request.param
    model = make_checkpoint(tokenizer, tmp_path_factory.mktemp(tokenizer))
    template = model.parent / f"{template_id}.jinja"
    template.write_text(TEMPLATES[template_id]["chat_template"])
    s = Server("--max-num-seqs", "8", "--served-model-name", "m", "--chat-template", str(template),
               *flags, model=model)
    client = openai.OpenAI(base_url=s.url + "/v1", api_key="unused", max_retries=0, timeout=120)
    yield name, tokenizer, template_id, s, client
    assert s.stop() == 0, "".join(s.log[-20:])


def check_call(call, names=("get_weather", "get_time")):
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name in names
    jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_time"}}],
                         ids=["required", "named"])
def test_forced_call_whole_and_streamed(served, choice):
    _, _, _, _, client = served
    args = dict(model="m", messages=MESSAGES, tools=TOOLS, tool_choice=choice, parallel_tool_calls=False,
                temperature=0, max_tokens=120)
    r = client.chat.completions.create(**args)
    msg, finish = r.choices[0].message, r.choices[0].finish_reason
    assert finish == "tool_calls", r
    assert msg.content is None and len(msg.tool_calls) == 1
    check_call(msg.tool_calls[0], ["get_time"] if isinstance(choice, dict) else ["get_weather", "get_time"])

    # Streaming: the call's first delta carries index, id, type and name; the rest only argument
    # fragments, which add up to the whole response's arguments.
    calls, content, finishes = {}, "", []
    for chunk in client.chat.completions.create(**args, stream=True):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for tc in delta.tool_calls or []:
            if tc.index not in calls:
                assert tc.id and tc.type == "function" and tc.function.name, tc
                calls[tc.index] = {"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments or ""}
            else:
                assert tc.id is None and tc.function.name is None, tc
                calls[tc.index]["arguments"] += tc.function.arguments or ""
        if chunk.choices[0].finish_reason:
            finishes.append(chunk.choices[0].finish_reason)
    assert finishes == ["tool_calls"] and content == ""
    assert list(calls) == [0]
    assert calls[0]["name"] == msg.tool_calls[0].function.name
    assert calls[0]["arguments"] == msg.tool_calls[0].function.arguments


def test_parallel_calls_have_distinct_ids_and_indices(served):
    _, _, _, _, client = served
    # With parallel calls allowed the grammar lets a call follow a call; a random model mostly
    # goes on calling until the length (or stops after one: either is a valid answer).
    r = client.chat.completions.create(model="m", messages=MESSAGES, tools=TOOLS, tool_choice="required",
                                       temperature=1.0, seed=5, n=4, max_tokens=160)
    counts = []
    for choice in r.choices:
        calls = choice.message.tool_calls
        assert calls and len({c.id for c in calls}) == len(calls)
        complete = calls if choice.finish_reason == "tool_calls" else calls[:-1]
        for c in complete:
            check_call(c)
        counts.append(len(calls))
    assert max(counts) >= 2, counts


def test_auto_and_none(served):
    _, _, _, _, client = served
    r = client.chat.completions.create(model="m", messages=MESSAGES, tools=TOOLS, tool_choice="auto",
                                       temperature=1.0, seed=1, max_tokens=24)
    assert r.choices[0].finish_reason in ("stop", "length", "tool_calls")
    for c in r.choices[0].message.tool_calls or []:
        assert c.function.name  # whatever the model wrote, a call the parser returns is named
    r = client.chat.completions.create(model="m", messages=MESSAGES, tools=TOOLS, tool_choice="none",
                                       temperature=0, max_tokens=24)
    assert r.choices[0].message.tool_calls is None and r.choices[0].finish_reason in ("stop", "length")


def test_tool_results_render_as_the_reference_template_does(served):
    """The assistant's calls go back with arguments as JSON strings (OpenAI's form) and the
    results as role "tool" with tool_call_id: the prompt must be Jinja2's rendering of the
    same conversation (arguments as objects, as transformers passes them)."""
    name, tokenizer, template_id, s, _ = served
    cases = [c for c in RENDERINGS if c["template_id"] == template_id and "expected" in c
             and any(m["role"] == "tool" for m in c["messages"])]
    assert cases, template_id
    tok = Tokenizer.from_file(str(DATA / tokenizer / "tokenizer.json"))
    for case in cases:
        messages = json.loads(json.dumps(case["messages"]))
        for m in messages:
            for call in m.get("tool_calls") or []:
                fn = call.get("function", call)
                if isinstance(fn.get("arguments"), dict):
                    fn["arguments"] = json.dumps(fn["arguments"])
        status, body = s.json("POST", "/tokenize", {"model": "m", "messages": messages, "tools": case["tools"],
                                                    "add_generation_prompt": case["add_generation_prompt"],
                                                    # the references' fixed strftime_now date
                                                    "chat_template_kwargs": {"date_string": "15 Jan 2026"}})
        assert status == 200, body
        assert body["tokens"] == tok.encode(case["expected"], add_special_tokens=False).ids, case["case"]


@pytest.mark.parametrize("body,param", [
    ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "tools"),
    ({"tools": [{"type": "retrieval"}]}, "tools"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
    ({"parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ({"tools": None, "tool_choice": "required"}, "tool_choice"),
])
def test_bad_tool_requests_are_400(served, body, param):
    _, _, _, s, _ = served
    status, reply = s.json("POST", "/v1/chat/completions", {
        "messages": MESSAGES, "tools": TOOLS, "max_tokens": 4, **body})
    assert status == 400 and reply["error"]["param"] == param, reply


def test_a_template_without_tool_calls_refuses_tools(server):
    """stories260K's fallback template writes no tool calls: tools need --tool-call-parser."""
    status, reply = server.json("POST", "/v1/chat/completions", {"messages": MESSAGES, "tools": TOOLS, "max_tokens": 4})
    assert status == 400 and reply["error"]["param"] == "tools" and "--tool-call-parser" in reply["error"]["message"]
    status, _ = server.json("POST", "/v1/chat/completions", {"messages": MESSAGES, "tools": TOOLS,
                                                             "tool_choice": "none", "max_tokens": 4})
    assert status == 200
