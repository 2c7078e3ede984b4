"""Reasoning text through llm-serve and the openai SDK: with --reasoning-parser, "<think>" text
goes to message.reasoning_content (delta.reasoning_content when streaming), never into content.
A random-weight model writes no think block of its own, so a guided regex makes it write one;
Qwen3's enable_thinking reaches its real template through chat_template_kwargs."""
import json

import openai
import pytest

from conftest import Server
from tiny_checkpoint import DATA, make_checkpoint

TEMPLATES = json.loads((DATA / "chat_templates" / "templates.json").read_text())
MESSAGES = [{"role": "user", "content": "Is 7 prime?"}]
# A think block, then an answer: what a reasoning model writes.
THINKING = r"<think>\n[a-z]{2,6}( [a-z]{2,6}){1,3}\n</think>\n\n(yes|no)"


def start(tmp_path_factory, parser, template_id):
    model = make_checkpoint("qwen2-tokenizer", tmp_path_factory.mktemp(parser))
    template = model.parent / f"{template_id}.jinja"
    template.write_text(TEMPLATES[template_id]["chat_template"])
    return Server("--max-num-seqs", "4", "--served-model-name", "m", "--chat-template", str(template),
                  "--reasoning-parser", parser, model=model)


@pytest.fixture(scope="module", params=[("qwen3", "qwen3"), ("deepseek_r1", "deepseek-r1-distill-qwen")],
                ids=lambda p: p[0])
def served(request, tmp_path_factory):
    s = start(tmp_path_factory, *request.param)
    yield request.param[0], s, openai.OpenAI(base_url=s.url + "/v1", api_key="unused", max_retries=0, timeout=120)
    assert s.stop() == 0, "".join(s.log[-20:])


def test_think_block_goes_to_reasoning_content(served):
    _, _, client = served
    args = dict(model="m", messages=MESSAGES, temperature=1.0, seed=3, max_tokens=60,
                extra_body={"guided_regex": THINKING})
    r = client.chat.completions.create(**args)
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "stop"
    reasoning = msg.model_extra["reasoning_content"]
    assert reasoning and "<think>" not in reasoning and "</think>" not in reasoning
    assert msg.content in ("\n\nyes", "\n\nno") and "think" not in msg.content
    streamed = {"reasoning_content": "", "content": ""}
    for chunk in client.chat.completions.create(**args, stream=True):
        if chunk.choices:
            delta = chunk.choices[0].delta
            streamed["content"] += delta.content or ""
            streamed["reasoning_content"] += (delta.model_extra or {}).get("reasoning_content") or ""
    assert streamed == {"reasoning_content": reasoning, "content": msg.content}


def test_output_without_a_think_block(served):
    """deepseek_r1: the template opened the block, so text without </think> is all reasoning;
    qwen3: output that does not open a block is all content."""
    parser, _, client = served
    r = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=8, extra_body={"guided_choice": ["yes"]})
    msg = r.choices[0].message
    if parser == "deepseek_r1":
        assert msg.model_extra["reasoning_content"] == "yes" and msg.content == ""
    else:
        assert msg.model_extra["reasoning_content"] is None and msg.content == "yes"


def test_qwen3_enable_thinking_reaches_the_template(tmp_path_factory):
    s = start(tmp_path_factory, "qwen3", "qwen3")
    prompts = {}
    for enable in (True, False):
        _, body = s.json("POST", "/tokenize", {"messages": MESSAGES, "chat_template_kwargs": {"enable_thinking": enable}})
        _, text = s.json("POST", "/detokenize", {"tokens": body["tokens"]})
        prompts[enable] = text["prompt"]
    assert s.stop() == 0
    # Disabled, the template writes an empty think block for the model to continue after.
    assert prompts[False] == prompts[True] + "<think>\n\n</think>\n\n"


def test_json_answer_after_the_think_block(served):
    """With a reasoning parser, response_format constrains the answer after the think block: the
    think text stays free, and every answer that stops is schema-valid JSON in content."""
    parser, _, client = served
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    stopped = 0
    for seed in range(8):
        r = client.chat.completions.create(
            model="m", messages=MESSAGES, temperature=1.0, seed=seed, max_tokens=40,
            response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}})
        choice = r.choices[0]
        reasoning = choice.message.model_extra["reasoning_content"]
        assert reasoning is None or "</think>" not in reasoning
        if choice.finish_reason == "stop":
            stopped += 1
            assert isinstance(json.loads(choice.message.content)["n"], int), choice.message.content
        elif parser == "deepseek_r1":
            # The template opened the block: until "</think>" everything is reasoning.
            assert choice.message.content in ("", None) or reasoning is not None
    if parser == "qwen3":
        assert stopped > 0, "no seed answered straight away"
