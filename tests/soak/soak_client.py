"""One soak client: draws a random request (valid, invalid, or one it will hang up on), sends it
over loopback and classifies what came back as exactly one outcome.

Outcomes: "ok" (a full, well-formed answer), "error" (an OpenAI error object with the status the
request deserves), "hangup" (the client closed the socket on purpose), "bad" (anything else: a
wrong status, a broken body, a reset the client did not cause, a greedy answer that differs from
an earlier one). The soak fails on any "bad".
"""
import http.client
import json
import socket
import struct
import threading
import time

MAX_MODEL_LEN = 512
VOCAB = 512
PROMPTS = ["Once upon a time", "The little dog", "Lily and Tom went to the park", "One day, a cat",
           "The sun was hot and", "Ben had a red ball", "She was very happy because"]
STOPS = ["\n", ".", " the", "!", "and", "Once upon"]
STATUS_LINE_TIMEOUT = 120  # seconds; a loaded 2-core machine answers far sooner


class Outcome:
    def __init__(self, kind, detail, status=None, reaches_handler=True):
        self.kind, self.detail, self.status = kind, detail, status
        # False for requests the HTTP layer answers or drops before the API handler sees them
        # (oversized, malformed, cut off mid-body): the server's per-status counters skip those.
        self.reaches_handler = reaches_handler


class GreedyBook:
    """The first greedy answer per request; later identical requests must answer the same."""

    def __init__(self):
        self._mu = threading.Lock()
        self._seen = {}
        self.checked = 0

    def check(self, key, texts):
        with self._mu:
            first = self._seen.setdefault(key, texts)
            self.checked += 1
            return first == texts


def sampling(rng, chat):
    """Random valid sampling parameters."""
    p = {"max_tokens": rng.randint(1, 48)}
    if rng.random() < 0.35:
        p["temperature"] = 0
    else:
        p["temperature"] = round(rng.uniform(0, 2), 3)
        for name, draw in [("top_p", lambda: round(rng.uniform(0.05, 1), 3)),
                           ("top_k", lambda: rng.choice([-1, 0, rng.randint(1, VOCAB)])),
                           ("min_p", lambda: round(rng.uniform(0, 0.3), 3)),
                           ("seed", lambda: rng.randint(0, 2**31)),
                           ("presence_penalty", lambda: round(rng.uniform(-2, 2), 2)),
                           ("frequency_penalty", lambda: round(rng.uniform(-2, 2), 2)),
                           ("repetition_penalty", lambda: round(rng.uniform(0.5, 2), 2)),
                           ("logit_bias", lambda: {str(rng.randrange(VOCAB)): round(rng.uniform(-100, 100), 1)
                                                   for _ in range(rng.randint(1, 5))})]:
            if rng.random() < 0.4:
                p[name] = draw()
    if rng.random() < 0.4:
        p["n"] = rng.randint(1, 3)
    if rng.random() < 0.3:
        p["stop"] = rng.sample(STOPS, rng.randint(1, 3))
    if rng.random() < 0.15:
        p["ignore_eos"] = True
        p["min_tokens"] = rng.randint(0, p["max_tokens"])
    if rng.random() < 0.3:
        if chat:
            p["logprobs"] = True
            p["top_logprobs"] = rng.randint(0, 5)
        else:
            p["logprobs"] = rng.randint(0, 5)
    return p


def valid_request(rng):
    """(path, body) of a request the server must answer 200."""
    chat = rng.random() < 0.4
    body = sampling(rng, chat)
    if chat:
        body["messages"] = [{"role": "user", "content": rng.choice(PROMPTS)}]
        if rng.random() < 0.3:
            body["messages"].insert(0, {"role": "system", "content": "You tell short stories."})
        path = "/v1/chat/completions"
    else:
        form = rng.random()
        if form < 0.6:
            body["prompt"] = rng.choice(PROMPTS) + " " * rng.randint(0, 1)
        elif form < 0.75:
            body["prompt"] = rng.sample(PROMPTS, rng.randint(1, 3))
        elif form < 0.9:
            body["prompt"] = [rng.randrange(3, VOCAB) for _ in range(rng.randint(1, 200))]
        else:
            body["prompt"] = [[rng.randrange(3, VOCAB) for _ in range(rng.randint(1, 20))] for _ in range(2)]
        if "logprobs" not in body and rng.random() < 0.2:
            body["echo"] = True
        path = "/v1/completions"
    if rng.random() < 0.5:
        body["stream"] = True
        if rng.random() < 0.5:
            body["stream_options"] = {"include_usage": True}
    if rng.random() < 0.3:
        body["model"] = "stories260K"
    return path, body


def invalid_request(rng):
    """(method, path, raw body bytes, expected status) of a request the server must refuse."""
    cases = [
        ("POST", "/v1/completions", b'{"prompt": "x", ', 400),
        ("POST", "/v1/chat/completions", b"[1, 2, 3]", 400),
        ("POST", "/v1/completions", {"prompt": 5}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "max_tokens": "ten"}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "temperature": "hot"}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "stream": "yes"}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "n": 1.5}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "stop": 7}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "logit_bias": [1]}, 400),
        ("POST", "/v1/chat/completions", {"messages": "hi"}, 400),
        ("POST", "/v1/chat/completions", {"messages": [{"content": "no role"}]}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "temperature": rng.choice([-1, 2.5])}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "top_p": rng.choice([0, 1.5])}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "top_k": -5}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "n": rng.choice([0, 65, 10**6])}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "logprobs": 21}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "presence_penalty": 5}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "logit_bias": {"99999": 1}}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "logit_bias": {"5": 500}}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "max_tokens": rng.choice([0, -3, 10**5])}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "max_tokens": 4, "min_tokens": 9}, 400),
        ("POST", "/v1/completions", {"prompt": [VOCAB + 3]}, 400),
        ("POST", "/v1/completions", {"prompt": "Once upon a time " * 200}, 400),  # beyond the window
        ("POST", "/v1/completions", {"prompt": "The dog " * 100, "max_tokens": 480}, 400),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "tale " * 600}]}, 400),
        ("POST", "/v1/completions", {"prompt": "x", "model": "gpt-9"}, 404),
        ("GET", "/v2/nothing", None, 404),
        ("POST", "/v1/embeddings", {"input": "x"}, 404),
        ("GET", "/v1/completions", None, 405),
        ("DELETE", "/v1/models", None, 405),
    ]
    method, path, body, status = rng.choice(cases)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    return method, path, body, status


class Client:
    """One keep-alive connection, reopened after hang-ups and server-side closes."""

    def __init__(self, port, rng, book):
        self.port, self.rng, self.book = port, rng, book
        self.conn = None

    def _connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=STATUS_LINE_TIMEOUT)
        return self.conn

    def _drop(self, rst=False):
        if self.conn is not None and self.conn.sock is not None and rst:
            # Linger 0: close() sends RST instead of FIN, as a crashed or killed client does.
            self.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def one(self):
        """Sends one random request; returns its Outcome."""
        r = self.rng.random()
        try:
            if r < 0.55:
                out = self._valid()
            elif r < 0.80:
                out = self._invalid()
            elif r < 0.93:
                out = self._hangup()
            else:
                out = self._raw_transport()
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as e:
            out = Outcome("bad", f"{type(e).__name__}: {e}")
        if out.kind == "bad":
            self._drop()  # what is left of that answer would be read as the next one's
        return out

    def _send(self, method, path, body):
        conn = self._connection()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        return conn.getresponse()

    def _valid(self):
        path, body = self._draw_valid()
        resp = self._send("POST", path, json.dumps(body).encode())
        if resp.status == 429:  # an overloaded queue is a legitimate answer
            return self._error(resp, 429)
        if resp.status != 200:
            return Outcome("bad", f"{path} answered {resp.status}: {resp.read()[:200]!r}", resp.status)
        texts = self._read_stream(resp, path) if body.get("stream") else self._read_whole(resp, path, body)
        if isinstance(texts, Outcome):
            return texts
        if body.get("temperature") == 0 and len(texts) == self._choices(body):
            key = json.dumps({k: v for k, v in body.items() if k not in ("stream", "stream_options", "model")},
                             sort_keys=True) + path
            if not self.book.check(key, texts):
                return Outcome("bad", f"greedy answer changed for {key[:120]}", 200)
        return Outcome("ok", path + (" stream" if body.get("stream") else ""), 200)

    def _draw_valid(self):
        while True:
            path, body = valid_request(self.rng)
            prompt = body.get("prompt")
            if isinstance(prompt, list) and isinstance(prompt[0], list):
                longest = max(map(len, prompt))
            elif isinstance(prompt, list) and isinstance(prompt[0], int):
                longest = len(prompt)
            else:
                longest = 64  # the texts and chats drawn here are far shorter
            if longest + body["max_tokens"] < MAX_MODEL_LEN:
                return path, body

    @staticmethod
    def _choices(body):
        prompt = body.get("prompt")
        prompts = len(prompt) if isinstance(prompt, list) and prompt and not isinstance(prompt[0], int) else 1
        return prompts * body.get("n", 1)

    def _read_whole(self, resp, path, body):
        data = json.loads(resp.read())
        choices = data["choices"]
        if len(choices) != self._choices(body) or "usage" not in data:
            return Outcome("bad", f"{path}: {len(choices)} choices for {self._choices(body)}", 200)
        if any(c["finish_reason"] not in ("stop", "length") for c in choices):
            return Outcome("bad", f"{path}: finish reasons {[c['finish_reason'] for c in choices]}", 200)
        key = "message" if "chat" in path else "text"
        texts = [c[key]["content"] if key == "message" else c[key] for c in sorted(choices, key=lambda c: c["index"])]
        if body.get("echo"):
            return []  # the echoed prompt makes the text differ from the streamed form; skip the book
        return texts

    def _read_stream(self, resp, path):
        texts, finished, done = {}, set(), False
        for raw in resp:
            line = raw.decode().strip()
            if not line:
                continue
            if not line.startswith("data: "):
                return Outcome("bad", f"{path}: SSE line {line[:80]!r}", 200)
            if line == "data: [DONE]":
                done = True
                continue
            if done:
                return Outcome("bad", f"{path}: data after [DONE]", 200)
            chunk = json.loads(line[6:])
            if "error" in chunk:
                return Outcome("bad", f"{path}: error event {chunk['error']}", 200)
            for c in chunk["choices"]:
                piece = c["delta"].get("content") if "delta" in c else c.get("text")
                texts[c["index"]] = texts.get(c["index"], "") + (piece or "")
                if c.get("finish_reason"):
                    finished.add(c["index"])
        if not done or finished != set(texts):
            return Outcome("bad", f"{path}: stream ended without [DONE] or a finish per choice", 200)
        return [texts[i] for i in sorted(texts)]

    def _error(self, resp, expected):
        text = resp.read()
        try:
            err = json.loads(text)["error"]
            well_formed = set(err) == {"message", "type", "param", "code"}
        except (ValueError, KeyError, TypeError):
            well_formed = False
        if resp.status != expected or not well_formed:
            return Outcome("bad", f"expected {expected}, got {resp.status}: {text[:200]!r}", resp.status)
        return Outcome("error", str(expected), resp.status)

    def _invalid(self):
        method, path, body, status = invalid_request(self.rng)
        out = self._error(self._send(method, path, body), status)
        if out.kind == "bad":
            out.detail = f"{method} {path} {(body or b'')[:80]!r}: {out.detail[:120]}"
        return out

    def _hangup(self):
        """Closes the socket on purpose: mid-stream (FIN or RST) or before any answer."""
        path, body = self._draw_valid()
        body["stream"] = self.rng.random() < 0.7
        body["max_tokens"] = max(body["max_tokens"], 16)
        payload = json.dumps(body).encode()
        if body["stream"]:
            resp = self._send("POST", path, payload)
            if resp.status == 429:
                return self._error(resp, 429)
            if resp.status != 200:
                self._drop()
                return Outcome("bad", f"hang-up stream answered {resp.status}", resp.status)
            for _ in range(self.rng.randint(0, 4)):
                if not resp.readline():
                    break
            how = "rst" if self.rng.random() < 0.3 else "fin"
            self._drop(rst=how == "rst")
            return Outcome("hangup", "mid-stream " + how, 200)
        # By hand, as getresponse() would wait for the answer.
        conn = self._connection()
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(payload)))
        conn.endheaders(payload)
        time.sleep(self.rng.uniform(0, 0.1))
        self._drop()  # FIN: the request bytes before it are delivered, so the server counts it
        return Outcome("hangup", "before the answer", None)

    def _raw_transport(self):
        """Requests the HTTP layer answers (or drops) before the API: oversized, malformed, cut off."""
        kind = self.rng.choice(["oversized", "malformed", "cut"])
        with socket.create_connection(("127.0.0.1", self.port), timeout=STATUS_LINE_TIMEOUT) as s:
            if kind == "oversized":
                s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 99999999\r\n\r\n{\"prompt\": \"")
                expected = b"HTTP/1.1 413"
            elif kind == "malformed":
                s.sendall(b"BLAH /\x01\x02 NOTHTTP\r\n\r\n")
                expected = b"HTTP/1.1 400"
            else:
                s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro")
                s.shutdown(socket.SHUT_WR)
                return Outcome("hangup", "cut mid-body", None, reaches_handler=False)
            reply = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                reply += b
        if not reply.startswith(expected):
            return Outcome("bad", f"{kind}: {reply[:80]!r}", None, reaches_handler=False)
        return Outcome("error", expected[9:].decode(), int(expected[9:]), reaches_handler=False)
