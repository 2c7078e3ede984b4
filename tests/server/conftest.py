"""Starts the real llm-serve binary on a free loopback port for the tests, and stops it."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("LLM_BIN_DIR", ROOT / "build" / "bin"))
MODEL = ROOT / "models" / "stories260K"


class Server:
    def __init__(self, *extra_args, env=None, model=MODEL):
        # model=None: the arguments say what to serve (--config FILE).
        cmd = [str(BIN_DIR / "llm-serve"), *(["--model", str(model)] if model else []), "--port", "0", *extra_args]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self.log = []
        self.port = None
        deadline = time.time() + 60
        while self.port is None:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("llm-serve exited: " + "".join(self.log))
            self.log.append(line)
            if "listening on http://" in line:
                self.port = int(line.strip().rsplit(":", 1)[1])
            if time.time() > deadline:
                raise RuntimeError("llm-serve did not start")
        self._drain_thread()
        self.url = f"http://127.0.0.1:{self.port}"
        while self.health() != 200:
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("llm-serve never became healthy: " + "".join(self.log))
            time.sleep(0.05)

    def _drain_thread(self):
        import threading

        def drain():
            for line in self.proc.stderr:
                self.log.append(line)
        threading.Thread(target=drain, daemon=True).start()

    def health(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def request(self, method, path, body=None, headers=None, timeout=60):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def json(self, method, path, body=None, **kw):
        status, _, text = self.request(method, path, body, **kw)
        return status, json.loads(text)

    def metrics(self):
        from prometheus_client.parser import text_string_to_metric_families
        _, _, text = self.request("GET", "/metrics")
        out = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                key = s.name + (str(sorted(s.labels.items())) if s.labels else "")
                out[key] = s.value
        return out

    def raw(self, data: bytes, read_timeout=10):
        """Sends raw bytes on a new connection; returns everything read until close/timeout."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    chunks.append(b)
            except socket.timeout:
                pass
            return b"".join(chunks)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def server():
    s = Server("--max-num-seqs", "32", "--served-model-name", "stories")
    yield s
    assert s.stop() == 0, "".join(s.log[-20:])


def generate_cli(prompt, max_tokens):
    out = subprocess.run([str(BIN_DIR / "llm-generate"), "--model", str(MODEL), "--prompt", prompt,
                          "--max-tokens", str(max_tokens), "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)
