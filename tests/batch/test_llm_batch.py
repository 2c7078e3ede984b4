"""llm-batch end to end: mixed good and bad lines, equality with llm-serve, crash + --resume,
and bounded memory on a large file."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from conftest import BIN_DIR, MODEL, Server  # noqa: E402

BATCH = str(BIN_DIR / "llm-batch")


def completion(i, **extra):
    body = {"model": "stories260K", "prompt": f"Once upon a time number {i}", "max_tokens": 8 + i % 5,
            "temperature": 0}
    body.update(extra)
    return {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/completions", "body": body}


def chat(i, **extra):
    body = {"messages": [{"role": "user", "content": f"Tell story {i}"}], "max_tokens": 6 + i % 4, "temperature": 0}
    body.update(extra)
    return {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}


def write_lines(path, lines):
    with open(path, "w") as f:
        for line in lines:
            f.write(line if isinstance(line, str) else json.dumps(line))
            f.write("\n")


def read_output(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def run_batch(inp, out, *args, timeout=300):
    return subprocess.run([BATCH, "--model", str(MODEL), "--input", str(inp), "--output", str(out), *args],
                          capture_output=True, text=True, timeout=timeout)


def mixed_lines():
    """200 lines: completions and chat with assorted sampling settings, 12 of them bad."""
    lines = []
    for i in range(200):
        if i % 2:
            lines.append(chat(i))
        elif i % 3 == 0:
            lines.append(completion(i, temperature=0.8, top_p=0.9, seed=i, n=2))
        else:
            lines.append(completion(i))
    bad = {
        5: "{this is not json",
        17: {"custom_id": "req-17", "method": "GET", "url": "/v1/completions", "body": {"prompt": "x"}},
        29: {"custom_id": "req-29", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}},
        41: completion(41, stream=True),
        53: completion(53, temperature=-1),
        65: {"method": "POST", "url": "/v1/completions", "body": {"prompt": "x"}},
        77: completion(77, max_tokens=10000),
        89: chat(89, messages=[]),
        101: {"custom_id": "req-100", "method": "POST", "url": "/v1/completions", "body": {"prompt": "x"}},
        113: completion(113, model="no-such-model"),
        # Fields of the wrong JSON type (found by tests/fuzz/batch_line_fuzz).
        125: {"custom_id": "req-125", "method": {"prompt": "x"}, "url": "/v1/completions", "body": {"prompt": "x"}},
        137: {"custom_id": "req-137", "method": "POST", "url": 7, "body": {"prompt": "x"}},
    }
    for i, line in bad.items():
        lines[i] = line
    return lines, bad


def test_mixed_file_answers_every_line_once_in_order(tmp_path):
    lines, bad = mixed_lines()
    write_lines(tmp_path / "in.jsonl", lines)
    r = run_batch(tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    assert r.returncode == 1, r.stderr
    assert "12 of 200 lines failed" in r.stderr
    assert "188 ok, 12 failed" in r.stderr
    out = read_output(tmp_path / "out.jsonl")
    assert len(out) == 200
    errors = [i for i, o in enumerate(out) if o["error"] is not None]
    assert errors == sorted(bad)
    for i in errors:
        assert out[i]["response"] is None
        assert out[i]["error"]["message"].startswith(f"line {i + 1}: ")
    words = {5: "malformed JSON", 17: "method", 29: "unsupported url", 41: "stream", 53: "temperature",
             65: "custom_id", 77: "maximum context length", 89: "messages", 101: "earlier line",
             113: "does not exist", 125: "method", 137: "unsupported url"}
    for i, w in words.items():
        assert w in out[i]["error"]["message"], out[i]
    ok = [o for o in out if o["error"] is None]
    assert len(ok) == 188
    ids = [o["custom_id"] for o in ok]
    assert len(set(ids)) == 188  # each answered custom_id exactly once
    for i, o in enumerate(out):
        if o["error"] is None:
            assert o["custom_id"] == lines[i]["custom_id"]  # input order
            assert o["response"]["status_code"] == 200
            body = o["response"]["body"]
            assert body["object"] in ("text_completion", "chat.completion")
            n = lines[i]["body"].get("n", 1)
            assert len(body["choices"]) == n


def test_results_equal_what_llm_serve_returns(tmp_path):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string", "maxLength": 6}},
              "required": ["n", "s"]}
    lines = [completion(i) for i in range(6)] + [chat(i) for i in range(6, 12)] + [
        # Structured output: the same codec, so the same constrained text as the server's.
        completion(12, response_format={"type": "json_object"}, max_tokens=30),
        chat(13, response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}, max_tokens=40),
        completion(14, guided_choice=["yes", "no"])]
    write_lines(tmp_path / "in.jsonl", lines)
    r = run_batch(tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    assert r.returncode == 0, r.stderr
    out = read_output(tmp_path / "out.jsonl")
    srv = Server("--served-model-name", "stories260K")
    try:
        for line, o in zip(lines, out):
            status, body = srv.json("POST", line["url"], line["body"])
            assert status == 200
            got = o["response"]["body"]
            key = "text" if line["url"] == "/v1/completions" else "message"
            assert [c[key] for c in got["choices"]] == [c[key] for c in body["choices"]]
            assert got["usage"]["completion_tokens"] == body["usage"]["completion_tokens"]
    finally:
        assert srv.stop() == 0


def test_a_schema_outside_the_subset_fails_its_line_only(tmp_path):
    bad = completion(1, guided_json={"type": "array", "uniqueItems": True})
    write_lines(tmp_path / "in.jsonl", [completion(0), bad, completion(2)])
    r = run_batch(tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    out = read_output(tmp_path / "out.jsonl")
    assert [o["custom_id"] for o in out] == ["req-0", "req-1", "req-2"], r.stderr
    assert out[1]["error"] is not None or out[1]["response"]["status_code"] == 400, out[1]
    assert "uniqueItems" in json.dumps(out[1])
    assert out[0]["response"]["status_code"] == 200 and out[2]["response"]["status_code"] == 200


def comparable(o):
    body = o["response"]["body"]
    return o["custom_id"], [c.get("text", c.get("message")) for c in body["choices"]], body["usage"]


def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path):
    lines = [completion(i, max_tokens=40, ignore_eos=True, seed=i, temperature=0.7) for i in range(300)]
    write_lines(tmp_path / "in.jsonl", lines)
    r = run_batch(tmp_path / "in.jsonl", tmp_path / "full.jsonl", "--max-in-flight", "16")
    assert r.returncode == 0, r.stderr
    full = [comparable(o) for o in read_output(tmp_path / "full.jsonl")]

    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([BATCH, "--model", str(MODEL), "--input", str(tmp_path / "in.jsonl"),
                             "--output", str(out), "--max-in-flight", "16"], stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while (not out.exists() or out.stat().st_size < 20000) and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = out.read_text()
    assert 0 < partial.count("\n") < 300, "killed mid-run"
    with open(out, "a") as f:
        f.write('{"id": "torn')  # a torn last line, as a crash mid-write leaves
    r = run_batch(tmp_path / "in.jsonl", out, "--resume", "--max-in-flight", "16")
    assert r.returncode == 0, r.stderr
    assert "skipped" in r.stderr
    resumed = [comparable(o) for o in read_output(out)]
    assert [c[0] for c in resumed] == [f"req-{i}" for i in range(300)]  # each exactly once, in order
    assert resumed == full


def test_large_input_runs_in_bounded_memory(tmp_path):
    def make(n, path):
        rng = random.Random(n)
        with open(path, "w") as f:
            for i in range(n):
                f.write(json.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/completions",
                                    "body": {"prompt": "The cat " * rng.randint(1, 20), "max_tokens": 2,
                                             "temperature": 0}}) + "\n")

    def peak_rss_kib(n):
        make(n, tmp_path / f"in{n}.jsonl")
        # A fresh wrapper process, so RUSAGE_CHILDREN sees this llm-batch run alone.
        wrapper = ("import resource, subprocess, sys\n"
                   "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                   "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                   "sys.stderr.write(r.stderr)\n")
        r = subprocess.run([sys.executable, "-c", wrapper, BATCH, "--model", str(MODEL),
                            "--input", str(tmp_path / f"in{n}.jsonl"), "--output", str(tmp_path / f"out{n}.jsonl"),
                            "--max-in-flight", "32", "--max-num-seqs", "32"],
                           capture_output=True, text=True, timeout=600,
                           # Under AddressSanitizer freed memory sits in a quarantine that grows
                           # with churn; without it RSS shows what the runner itself holds.
                           env={**os.environ, "ASAN_OPTIONS": "quarantine_size_mb=0"})
        code, rss = map(int, r.stdout.split())
        assert code == 0, r.stderr
        assert sum(1 for _ in open(tmp_path / f"out{n}.jsonl")) == n
        return rss

    small = peak_rss_kib(2000)
    large = peak_rss_kib(20000)
    print(f"\npeak RSS: 2,000 lines {small / 1024:.1f} MiB; 20,000 lines {large / 1024:.1f} MiB")
    # Ten times the lines may not cost anywhere near ten times the memory: the window is capped.
    assert large < small * 1.5 + 16 * 1024


def test_progress_is_a_live_bar_on_a_terminal_and_lines_otherwise(tmp_path):
    import pty
    lines = [completion(i, max_tokens=100, ignore_eos=True) for i in range(60)]
    write_lines(tmp_path / "in.jsonl", lines)
    # Not a terminal: plain lines and the summary.
    r = run_batch(tmp_path / "in.jsonl", tmp_path / "out1.jsonl", "--max-in-flight", "4", "--max-num-seqs", "4")
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr
    assert "llm-batch: done in" in r.stderr and "60 ok, 0 failed" in r.stderr
    # A terminal: a bar redrawn in place with done/total, rates and ETA.
    master, slave = pty.openpty()
    proc = subprocess.Popen([BATCH, "--model", str(MODEL), "--input", str(tmp_path / "in.jsonl"), "--output",
                             str(tmp_path / "out2.jsonl"), "--max-in-flight", "4", "--max-num-seqs", "4"],
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(timeout=300) == 0
    text = seen.decode(errors="replace")
    assert "\r[" in text and "/60" in text and "req/s" in text and "ETA" in text, text[-500:]
