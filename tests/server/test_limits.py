"""The limits a public server needs, each set small on the command line so the tests are fast:
every rejection has the right status and error object, and the server goes on serving (each
rejected request is followed by a good one)."""
import http.client
import json
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN_DIR, MODEL, Server

LIMITS = ["--max-body-bytes", "4096", "--max-header-bytes", "1024", "--max-prompt-tokens", "20",
          "--max-tokens-limit", "30", "--max-n", "3", "--max-prompts", "2", "--max-stop-strings", "2",
          "--max-stop-length", "8", "--max-logit-bias", "2", "--max-stop-token-ids", "2"]
GOOD = {"prompt": "Once", "max_tokens": 2}
CHAT = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def limited():
    s = Server(*LIMITS)
    yield s
    assert s.stop() == 0, "".join(s.log[-20:])


def error_of(status, text):
    body = json.loads(text)
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return status, body["error"]


def still_serving(srv):
    status, _, text = srv.request("POST", "/v1/completions", GOOD)
    assert status == 200, text


def wait_until_admitted(srv, timeout=10):
    """A closed connection frees its slot when the server notices the close, a moment later."""
    deadline = time.time() + timeout
    while srv.health() != 200:
        assert time.time() < deadline, "no connection admitted after one closed"
        time.sleep(0.05)


def wait_for_idle_pool(srv, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = srv.metrics()
        if m["llm_num_requests_running"] == 0 and m["llm_kv_cache_usage_perc"] == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"pool not idle: {srv.metrics()}")


def test_body_over_the_limit_is_413(limited):
    # A client that sends the whole body still reads the 413 (the server drains before closing).
    body = json.dumps({"prompt": "a" * 8000}).encode()
    status, err = error_of(*limited.request("POST", "/v1/completions", body)[::2])
    assert status == 413 and "exceeds 4096 bytes" in err["message"]
    still_serving(limited)
    # One that declares too much is answered without the server reading the body.
    reply = limited.raw(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(5 << 20).encode() + b"\r\n\r\n{\"prompt\": \"aaaa")
    assert reply.startswith(b"HTTP/1.1 413")
    still_serving(limited)
    # At the limit is fine.
    padded = json.dumps(GOOD).encode()
    padded = padded[:-1] + b" " * (4096 - len(padded)) + b"}"
    assert len(padded) == 4096 and limited.request("POST", "/v1/completions", padded)[0] == 200


def test_headers_over_the_limit_is_431(limited):
    status, _, text = limited.request("POST", "/v1/completions", GOOD, headers={"X-Pad": "p" * 2000})
    status, err = error_of(status, text)
    assert status == 431 and "exceed 1024 bytes" in err["message"]
    still_serving(limited)
    assert limited.request("POST", "/v1/completions", GOOD, headers={"X-Pad": "p" * 500})[0] == 200


@pytest.mark.parametrize("path,body,param,words", [
    ("/v1/completions", {"prompt": "dog " * 30}, "prompt", "at most 20 tokens"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "dog " * 30}]}, "messages",
     "at most 20 tokens"),
    ("/v1/completions", {"prompt": "x", "max_tokens": 31}, "max_tokens", "at most 30 on this server, got 31"),
    ("/v1/chat/completions", {"messages": CHAT, "max_completion_tokens": 31}, "max_completion_tokens",
     "at most 30"),
    ("/v1/completions", {"prompt": "x", "n": 4}, "n", "[1, 3], got 4"),
    ("/v1/completions", {"prompt": ["a", "b", "c"]}, "prompt", "at most 2 prompts, got 3"),
    ("/v1/completions", {"prompt": "x", "stop": ["a", "b", "c"]}, "stop", "at most 2 strings, got 3"),
    ("/v1/completions", {"prompt": "x", "stop": "123456789"}, "stop", "at most 8 bytes long, got one of 9"),
    ("/v1/completions", {"prompt": "x", "logit_bias": {"1": 1, "2": 1, "3": 1}}, "logit_bias",
     "at most 2 entries, got 3"),
    ("/v1/chat/completions", {"messages": CHAT, "stop_token_ids": [1, 2, 3]}, "stop_token_ids",
     "at most 2 ids, got 3"),
])
def test_parameter_over_its_limit_is_400_naming_it(limited, path, body, param, words):
    status, err = error_of(*limited.request("POST", path, body)[::2])
    assert status == 400, err
    assert err["param"] == param and err["type"] == "invalid_request_error"
    assert words in err["message"], err["message"]
    still_serving(limited)


def test_parameters_at_their_limits_are_served(limited):
    status, body = limited.json("POST", "/v1/completions", {
        "prompt": ["Once", "Once upon a time there was a dog"], "n": 3, "max_tokens": 30, "ignore_eos": True,
        "stop": ["12345678", "zzz"], "logit_bias": {"5": 1, "6": -1}, "stop_token_ids": [7, 8]})
    assert status == 200, body
    assert len(body["choices"]) == 6 and body["usage"]["completion_tokens"] == 6 * 30


def test_default_max_tokens_stays_within_the_cap(limited):
    # Chat's default (the rest of the context) is capped instead of refused.
    status, body = limited.json("POST", "/v1/chat/completions", {"messages": CHAT, "ignore_eos": True})
    assert status == 200, body
    assert body["usage"]["completion_tokens"] == 30


def keep_alive_health(conn):
    conn.request("GET", "/health")
    r = conn.getresponse()
    r.read()
    return r.status


def admitted_connection(srv, timeout=10):
    """A keep-alive connection the server has admitted: connections that just closed (health
    checks) hold their slots until the server notices, so a 503 here means try again."""
    deadline = time.time() + timeout
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        if keep_alive_health(conn) == 200:
            return conn
        conn.close()
        assert time.time() < deadline, "no connection admitted"
        time.sleep(0.05)


def test_connections_over_the_limit_get_503_and_the_rest_are_served():
    srv = Server("--max-connections", "2")
    try:
        a = admitted_connection(srv)
        b = admitted_connection(srv)
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        c.request("POST", "/v1/completions", json.dumps(GOOD), {"Content-Type": "application/json"})
        r = c.getresponse()
        status, err = error_of(r.status, r.read().decode())
        assert status == 503 and "limit of 2 connections" in err["message"]
        assert r.getheader("Retry-After") == "1" and r.getheader("Connection") == "close"
        c.close()
        # The admitted connections go on being served.
        assert keep_alive_health(a) == 200 and keep_alive_health(b) == 200
        # Once one closes, a new connection is admitted.
        a.close()
        wait_until_admitted(srv)
        assert keep_alive_health(b) == 200
        b.close()
    finally:
        assert srv.stop() == 0


def test_idle_connections_are_closed_and_free_their_slot():
    srv = Server("--idle-timeout", "3", "--max-connections", "1")
    try:
        wait_until_admitted(srv)  # the start-up health checks' connections are gone
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        start = time.time()
        # The one slot is taken by the idle connection once the server has accepted it (polled:
        # a loaded or instrumented server may take a moment).
        while srv.health() != 503:
            assert time.time() - start < 2, "the idle connection was never counted"
            time.sleep(0.05)
        assert idle.recv(100) == b""  # closed by the server, unanswered: it asked nothing
        assert time.time() - start < 8
        idle.close()
        # With one slot, each request's connection holds it until the server notices the close:
        # a request right after another may still be turned away, and then its retry is served.
        deadline = time.time() + 10
        while (status := srv.request("POST", "/v1/completions", GOOD)[0]) == 503:
            assert time.time() < deadline, "the freed slot was never given out again"
            time.sleep(0.05)
        assert status == 200
    finally:
        assert srv.stop() == 0


def test_slow_partial_request_times_out_without_blocking_others():
    srv = Server("--idle-timeout", "2")
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\"")
        # Meanwhile another client is served at once.
        still_serving(srv)
        start = time.time()
        assert s.recv(100) == b""  # the timer closes the socket, so there is no way to answer 408
        assert time.time() - start < 8
        s.close()
        still_serving(srv)
    finally:
        assert srv.stop() == 0


def test_full_queue_answers_429_with_retry_after():
    srv = Server("--max-num-seqs", "1", "--max-queue", "1")
    try:
        results = []
        lock = threading.Lock()

        def request():
            status, headers, text = srv.request("POST", "/v1/completions",
                                                {"prompt": "Once", "max_tokens": 200, "ignore_eos": True})
            with lock:
                results.append((status, headers.get("Retry-After"), text))
        threads = [threading.Thread(target=request) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r[0] for r in results)
        assert set(statuses) == {200, 429}, statuses
        for status, retry_after, text in results:
            if status == 429:
                assert retry_after == "1"
                assert "queue is full (1 requests)" in json.loads(text)["error"]["message"]
        wait_for_idle_pool(srv)
        still_serving(srv)
    finally:
        assert srv.stop() == 0


@pytest.mark.parametrize("flag,value", [("--max-n", "0"), ("--max-connections", "0"),
                                        ("--max-header-bytes", "10"), ("--max-prompt-tokens", "-1")])
def test_bad_limit_flags_exit_2_naming_the_flag(flag, value):
    out = subprocess.run([str(BIN_DIR / "llm-serve"), "--model", str(MODEL), flag, value],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and flag in out.stderr, out.stderr


def test_batch_runner_applies_the_same_limits(tmp_path):
    lines = [{"custom_id": "n3", "method": "POST", "url": "/v1/completions",
              "body": {"prompt": "x", "max_tokens": 2, "n": 3}},
             {"custom_id": "n2", "method": "POST", "url": "/v1/completions",
              "body": {"prompt": "x", "max_tokens": 2, "n": 2}},
             # The default limit (16 stop strings) is the server's too.
             {"custom_id": "stops", "method": "POST", "url": "/v1/completions",
              "body": {"prompt": "x", "max_tokens": 2, "stop": [f"s{i}" for i in range(17)]}}]
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run = subprocess.run([str(BIN_DIR / "llm-batch"), "--model", str(MODEL), "--input", str(inp),
                          "--output", str(out), "--max-n", "2"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    got = {r["custom_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert "[1, 2], got 3" in got["n3"]["error"]["message"]
    assert got["n2"]["error"] is None and len(got["n2"]["response"]["body"]["choices"]) == 2
    assert "at most 16 strings, got 17" in got["stops"]["error"]["message"]
