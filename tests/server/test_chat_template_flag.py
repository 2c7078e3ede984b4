"""--chat-template FILE (llm-serve and llm-batch) and the chat_template_kwargs request field."""
import json
import subprocess

import pytest

from conftest import BIN_DIR, MODEL, Server

TEMPLATE = ("[{% for m in messages %}{{ m['role'] }}={{ m['content'] }};{% endfor %}]"
            "{% if add_generation_prompt %}>{% endif %}{% if greeting is defined %}{{ greeting }}{% endif %}")
MESSAGES = [{"role": "user", "content": "Once upon a time"}]


@pytest.fixture(scope="module")
def template_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tmpl") / "custom.jinja"
    path.write_text(TEMPLATE)
    return path


def prompt_ids(s, text):
    status, body = s.json("POST", "/tokenize", {"prompt": text, "add_special_tokens": False})
    assert status == 200, body
    return body["tokens"]


def test_serve_renders_with_the_file_and_the_kwargs(template_file):
    s = Server("--chat-template", str(template_file))
    try:
        status, body = s.json("POST", "/tokenize", {"messages": MESSAGES})
        assert status == 200, body
        assert body["tokens"] == prompt_ids(s, "[user=Once upon a time;]>")
        status, body = s.json("POST", "/tokenize", {"messages": MESSAGES, "add_generation_prompt": False,
                                                    "chat_template_kwargs": {"greeting": " Hello"}})
        assert status == 200, body
        assert body["tokens"] == prompt_ids(s, "[user=Once upon a time;] Hello")
        status, body = s.json("POST", "/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 2,
                                                               "chat_template_kwargs": {"greeting": " Hello"}})
        assert status == 200, body
        assert body["usage"]["prompt_tokens"] == len(prompt_ids(s, "[user=Once upon a time;]> Hello"))
        for bad in [[1], "x", 3]:
            status, body = s.json("POST", "/v1/chat/completions",
                                  {"messages": MESSAGES, "chat_template_kwargs": bad})
            assert status == 400 and body["error"]["param"] == "chat_template_kwargs", body
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("binary", ["llm-serve", "llm-batch"])
@pytest.mark.parametrize("kind", ["missing", "directory", "syntax", "empty"])
def test_bad_template_file_is_a_bad_flag(binary, kind, tmp_path):
    path = tmp_path / "t.jinja"
    if kind == "directory":
        path = tmp_path
    elif kind == "syntax":
        path.write_text("{% for m in messages %}{{ m['content'] }}")  # no endfor
    elif kind == "empty":
        path.write_text("")
    args = [str(BIN_DIR / binary), "--model", str(MODEL), "--chat-template", str(path)]
    if binary == "llm-batch":
        args += ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")]
    else:
        args += ["--port", "0"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    first = r.stderr.splitlines()[0]
    assert "--chat-template" in first and str(path) in first, first
    if kind == "syntax":
        assert "syntax error" in first, first


def test_batch_renders_with_the_file(template_file, tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
            "body": {"messages": MESSAGES, "max_tokens": 2, "chat_template_kwargs": {"greeting": " Hello"}}}
    inp.write_text(json.dumps(line) + "\n")
    r = subprocess.run([str(BIN_DIR / "llm-batch"), "--model", str(MODEL), "--chat-template", str(template_file),
                        "--input", str(inp), "--output", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    usage = json.loads(out.read_text())["response"]["body"]["usage"]
    s = Server()
    try:
        assert usage["prompt_tokens"] == len(prompt_ids(s, "[user=Once upon a time;]> Hello"))
    finally:
        assert s.stop() == 0
