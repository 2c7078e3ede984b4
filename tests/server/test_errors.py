"""Every error a client can cause: OpenAI error objects, the right status, and the server (and
its KV pool) intact afterwards."""
import json
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from conftest import MODEL, Server


def error_of(status_body):
    status, body = status_body
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return status, body["error"]


def test_malformed_json(server):
    status, _, text = server.request("POST", "/v1/completions", b"{\"prompt\": ")
    assert status == 400
    assert "malformed JSON" in json.loads(text)["error"]["message"]
    # The message quotes the bytes the parser stopped at, which need not be UTF-8 (tests/fuzz).
    status, _, text = server.request("POST", "/v1/completions", b"{\"prompt\": \"O\xd6ce\"}")
    assert status == 400
    assert "malformed JSON" in json.loads(text)["error"]["message"]


@pytest.mark.parametrize("body,param,words", [
    ({"prompt": "x", "temperature": "hot"}, "temperature", "must be a number"),
    ({"prompt": "x", "temperature": 3}, "temperature", "[0, 2]"),
    ({"prompt": "x", "top_p": 0}, "top_p", "(0, 1]"),
    ({"prompt": "x", "n": 0}, "n", "[1, 32]"),  # --max-n (64) capped by --max-num-seqs 32
    ({"prompt": "x", "max_tokens": 0}, "max_tokens", "at least 1"),
    ({"prompt": "x", "logprobs": 21}, "logprobs", "[0, 20]"),
    ({"prompt": "x", "stop": 5}, "stop", "string or a list"),
    ({"prompt": "x", "logit_bias": {"99999": 1}}, "logit_bias", "not a token id"),
    ({"prompt": "x", "stream": "yes"}, "stream", "boolean"),
    ({"prompt": 7}, "prompt", "'prompt' must be"),
    ({}, "prompt", "required"),
])
def test_bad_parameters(server, body, param, words):
    status, err = error_of(server.json("POST", "/v1/completions", body))
    assert status == 400
    assert err["param"] == param
    assert words in err["message"]
    assert err["type"] == "invalid_request_error"


def test_prompt_beyond_the_context_says_how_long(server):
    long_prompt, short_prompt = "dog " * 600, "dog " * 50
    n_long = server.json("POST", "/tokenize", {"prompt": long_prompt})[1]["count"]
    n_short = server.json("POST", "/tokenize", {"prompt": short_prompt})[1]["count"]
    status, err = error_of(server.json("POST", "/v1/completions", {"prompt": long_prompt, "max_tokens": 5}))
    assert status == 400
    assert "maximum context length is 512" in err["message"] and f"{n_long} tokens long" in err["message"]
    status, err = error_of(server.json("POST", "/v1/completions", {"prompt": short_prompt, "max_tokens": 500}))
    assert status == 400 and f"{n_short} in the prompt, 500 in the completion" in err["message"]


def test_chat_errors(server):
    status, err = error_of(server.json("POST", "/v1/chat/completions", {"messages": []}))
    assert status == 400 and err["param"] == "messages"
    status, err = error_of(server.json("POST", "/v1/chat/completions", {"messages": [{"content": "x"}]}))
    assert status == 400
    # Fields of the wrong JSON type are the client's error, not an internal one (tests/fuzz).
    user = [{"role": "user", "content": "x"}]
    for body in ({"messages": user, "response_format": 5}, {"messages": user, "response_format": {"type": 1}},
                 {"messages": [{"role": "user", "content": [{"type": 1, "text": "x"}]}]}):
        status, err = error_of(server.json("POST", "/v1/chat/completions", body))
        assert status == 400, err
    status, err = error_of(server.json("POST", "/tokenize", {"messages": user, "add_generation_prompt": 1}))
    assert status == 400 and err["param"] == "add_generation_prompt"
    # Deep nesting is refused while parsing: copying 200k levels overflowed the stack (tests/fuzz).
    deep = b'{"messages": [{"role": "user", "content": "x", "x": ' + b"[" * 200000 + b"]" * 200000 + b"}]}"
    status, _, text = server.request("POST", "/v1/chat/completions", deep)
    assert status == 400 and "nests deeper" in json.loads(text)["error"]["message"]


def test_unknown_route_model_and_method(server):
    assert error_of(server.json("GET", "/v2/nothing"))[0] == 404
    status, err = error_of(server.json("POST", "/v1/completions", {"model": "gpt-9", "prompt": "x"}))
    assert status == 404 and "gpt-9" in err["message"]
    assert error_of(server.json("GET", "/v1/completions"))[0] == 405
    assert error_of(server.json("POST", "/v1/models", {}))[0] == 405


def test_malformed_http_is_400_and_server_keeps_serving(server):
    reply = server.raw(b"THIS IS NOT HTTP\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    reply = server.raw(b"POST /v1/completions HTTP/1.1\r\nContent-Length: zebra\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    assert server.health() == 200


def test_tokenize_and_detokenize(server):
    status, body = server.json("POST", "/tokenize", {"prompt": "Once upon a time"})
    assert status == 200 and body["tokens"][0] == 1 and body["count"] == len(body["tokens"])
    status, back = server.json("POST", "/detokenize", {"tokens": body["tokens"]})
    assert status == 200 and back["prompt"] == "Once upon a time"
    assert error_of(server.json("POST", "/detokenize", {"tokens": [1, 99999]}))[0] == 400


def wait_for_idle_pool(server, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = server.metrics()
        if m["llm_num_requests_running"] == 0 and m["llm_kv_cache_usage_perc"] == 0:
            return m
        time.sleep(0.05)
    raise AssertionError(f"pool not idle: {server.metrics()}")


def test_client_hanging_up_mid_stream_aborts_and_frees_blocks(server):
    abort_key = "llm_request_success_total[('finished_reason', 'abort')]"
    aborted_before = server.metrics().get(abort_key, 0)
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 500, "ignore_eos": True,
                       "stream": True}).encode()
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    got = b""
    while got.count(b"data: ") < 3:
        got += s.recv(4096)
    s.close()
    m = wait_for_idle_pool(server)
    assert m[abort_key] - aborted_before == 1
    assert server.health() == 200


def test_api_key_guards_all_but_health_and_metrics():
    srv = Server("--api-key", "sekret")
    try:
        status, err = error_of(srv.json("GET", "/v1/models"))
        assert status == 401
        status, err = error_of(srv.json("GET", "/v1/models", headers={"Authorization": "Bearer wrong"}))
        assert status == 401
        assert srv.json("GET", "/v1/models", headers={"Authorization": "Bearer sekret"})[0] == 200
        assert srv.health() == 200
        assert srv.request("GET", "/metrics")[0] == 200
    finally:
        assert srv.stop() == 0


def test_template_error_is_400_with_the_templates_message():
    tmp = Path(tempfile.mkdtemp())
    try:
        model = tmp / "model"
        shutil.copytree(MODEL, model)
        cfg = json.loads((model / "tokenizer_config.json").read_text())
        cfg["chat_template"] = ("{% if messages[0]['role'] != 'user' %}"
                                "{{ raise_exception('Conversations must start with a user message') }}{% endif %}"
                                "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}")
        (model / "tokenizer_config.json").write_text(json.dumps(cfg))
        srv = Server("--served-model-name", "m", model=model)
        try:
            status, err = error_of(srv.json("POST", "/v1/chat/completions",
                                            {"messages": [{"role": "assistant", "content": "hi"}]}))
            assert status == 400
            assert err["message"] == "Conversations must start with a user message"
            ok = srv.json("POST", "/v1/chat/completions",
                          {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
            assert ok[0] == 200
        finally:
            assert srv.stop() == 0
    finally:
        shutil.rmtree(tmp)
