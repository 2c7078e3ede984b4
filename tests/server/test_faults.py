"""Faults from outside the request path: a KV pool far too small for the load, and the model file
damaged on disk while the server runs. Either way every request must still get its right answer."""
import http.client
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import MODEL, Server

PROMPTS = ["Once upon a time", "The little dog", "Lily and Tom went to the park", "One day, a cat",
           "The sun was hot and", "Ben had a red ball", "She was very happy because", "Tim saw a big"]


def bodies(count, max_tokens):
    """Completions and chats: greedy, greedy with n=2, and seeded sampling (which must replay
    the same tokens after a preemption, as its generator state is the sequence's own)."""
    out = []
    for i in range(count):
        body = {"max_tokens": max_tokens, "ignore_eos": True, "temperature": 0}
        if i % 4 == 1:
            body.update(temperature=0.9, top_p=0.9, seed=1000 + i)
        elif i % 4 == 2:
            body["n"] = 2
        if i % 3 == 2:
            out.append(("/v1/chat/completions", {**body, "messages": [{"role": "user", "content": PROMPTS[i % 8]}]}))
        else:
            out.append(("/v1/completions", {**body, "prompt": f"{PROMPTS[i % 8]} number {i}"}))
        if i % 2:
            out[-1][1]["stream"] = True
    return out


def texts_of(path, data):
    key = "message" if "chat" in path else "text"
    return [c[key]["content"] if key == "message" else c[key] for c in sorted(data["choices"], key=lambda c: c["index"])]


class Stream:
    """A streamed request read chunk by chunk, so a test can act while it is in flight."""

    def __init__(self, server, path, body):
        self.path = path
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        self.conn.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        self.texts, self.finished, self.done = {}, {}, False

    def read_chunk(self):
        """Reads up to the next event with content; False at the end."""
        for raw in self.resp:
            line = raw.decode().strip()
            if not line:
                continue
            assert line.startswith("data: "), line
            if line == "data: [DONE]":
                self.done = True
                return False
            chunk = json.loads(line[6:])
            assert "error" not in chunk, chunk
            for c in chunk["choices"]:
                piece = c["delta"].get("content") if "delta" in c else c.get("text")
                self.texts[c["index"]] = self.texts.get(c["index"], "") + (piece or "")
                if c.get("finish_reason"):
                    self.finished[c["index"]] = c["finish_reason"]
            return True
        return False

    def result(self):
        while self.read_chunk():
            pass
        self.conn.close()
        assert self.done and set(self.finished) == set(self.texts), (self.finished, self.texts.keys())
        return [self.texts[i] for i in sorted(self.texts)]


def answer(server, path, body):
    if body.get("stream"):
        return Stream(server, path, body).result()
    status, data = server.json("POST", path, body, timeout=120)
    assert status == 200, data
    return texts_of(path, data)


def test_kv_pool_exhaustion_preempts_and_every_answer_is_unchanged():
    work = bodies(24, max_tokens=60)
    unloaded = Server("--served-model-name", "stories260K")
    try:
        reference = [answer(unloaded, p, b) for p, b in work]  # one at a time: no pressure
    finally:
        assert unloaded.stop() == 0
    # 10 blocks of 16 tokens: one n=2 request (2 x 5 blocks) fills the pool on its own.
    tiny = Server("--served-model-name", "stories260K", "--num-blocks", "10")
    try:
        with ThreadPoolExecutor(len(work)) as pool:
            loaded = list(pool.map(lambda pb: answer(tiny, *pb), work))
        m = tiny.metrics()
        assert m["llm_num_preemptions"] > 0
        assert loaded == reference
        assert m["llm_num_requests_running"] == 0 and m["llm_num_requests_waiting"] == 0
        assert m["llm_kv_cache_usage_perc"] == 0
        assert m["llm_request_success_total[('finished_reason', 'length')]"] == len(work)
    finally:
        assert tiny.stop() == 0, "".join(tiny.log[-20:])


@pytest.mark.parametrize("damage", ["truncate", "garbage", "replace"])
def test_model_file_damaged_after_start_changes_nothing(tmp_path, damage):
    model = tmp_path / "stories260K"
    shutil.copytree(MODEL, model)
    weights = model / "model.safetensors"
    os.chmod(weights, 0o644)
    os.chmod(model, 0o755)
    srv = Server(model=model)
    try:
        # The weights are the backend's own copies: the file is not even mapped any more.
        assert "model.safetensors" not in open(f"/proc/{srv.proc.pid}/maps").read()
        work = bodies(8, max_tokens=120)
        reference = [answer(srv, p, b) for p, b in work]
        # Damage the file while every request is in flight (each has streamed a first chunk).
        streams = [Stream(srv, p, {**b, "stream": True}) for p, b in work]
        for s in streams:
            assert s.read_chunk()
        size = weights.stat().st_size
        if damage == "truncate":
            os.truncate(weights, 0)
        elif damage == "garbage":
            with open(weights, "r+b") as f:  # in place: the same inode the server opened
                f.write(os.urandom(size))
        else:
            tmp = model / "model.safetensors.tmp"
            tmp.write_bytes(b"\0" * 64)
            os.replace(tmp, weights)
        assert [s.result() for s in streams] == reference
        assert [answer(srv, p, b) for p, b in work] == reference  # and new requests after
        assert srv.proc.poll() is None and srv.health() == 200
    finally:
        assert srv.stop() == 0, "".join(srv.log[-20:])
