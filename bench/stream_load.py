#!/usr/bin/env python3
"""Streaming load against any OpenAI-style /v1/completions server: llm-serve or llama-server.

The same requests as `llm-bench serve --request-rate inf`: --num-prompts prompts of --input-len
token ids (windows of one tokenized text, shifted by one token so no two share a prefix), each
asking for exactly --output-len tokens (ignore_eos, temperature 0), at most --max-concurrency in
flight. Prompts are tokenized here with the checkpoint's SentencePiece model, so both servers get
the same ids and no server endpoint beyond /v1/completions is needed (llama-server's /tokenize
reads "content" where llm-serve's reads "prompt", which is why `llm-bench serve` cannot drive it).

TTFT is request sent to the first chunk with text; TPOT (e2e - TTFT) / (tokens - 1); ITL the gaps
between text chunks; output tokens are the server's own usage.completion_tokens. Percentiles
interpolate linearly, as bench_report.cpp's summarize().

    stream_load.py --url http://127.0.0.1:PORT --tokenizer DIR/tokenizer.model --json OUT.json

Needs httpx and sentencepiece (bench/compare_llamacpp.sh installs both into build-peer/venv).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time

import httpx
import sentencepiece

WORDS = ("the cat sat on a mat and dog ran to park with happy girl named Lily tree big red ball "
         "sun sky blue bird sang song friend house door opened one day time there was little boy "
         "who loved play").split()


def summarize(values: list[float]) -> dict:
    if not values:
        return {k: 0.0 for k in ("mean", "median", "p90", "p99", "min", "max")}
    v = sorted(values)

    def pct(p: float) -> float:
        pos = p / 100.0 * (len(v) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(v) - 1)
        return v[lo] + (v[hi] - v[lo]) * (pos - lo)

    return {"mean": sum(v) / len(v), "median": pct(50), "p90": pct(90), "p99": pct(99),
            "min": v[0], "max": v[-1]}


def make_prompts(tokenizer: str, n: int, input_len: int, seed: int) -> list[list[int]]:
    sp = sentencepiece.SentencePieceProcessor(model_file=tokenizer)
    rng = random.Random(seed)
    text = "Once upon a time " + " ".join(rng.choice(WORDS) for _ in range(input_len + n + 16))
    ids = sp.encode(text)  # no BOS: a BOS would start every prompt alike
    if len(ids) < input_len + 1:
        raise SystemExit(f"the prompt text gave only {len(ids)} ids")
    windows = len(ids) - input_len + 1
    return [ids[i % windows:i % windows + input_len] for i in range(n)]


async def one_request(client: httpx.AsyncClient, url: str, body: dict) -> dict:
    r = {"ok": False, "error": "", "ttft_s": 0.0, "e2e_s": 0.0, "itl_s": [],
         "prompt_tokens": 0, "output_tokens": 0, "chunks": 0}
    sent = time.perf_counter()
    last = None
    done = False
    try:
        async with client.stream("POST", url + "/v1/completions", json=body) as resp:
            if resp.status_code != 200:
                r["error"] = f"HTTP {resp.status_code}: {(await resp.aread())[:200]!r}"
                return r
            async for line in resp.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    done = True
                    continue
                j = json.loads(data)
                if "error" in j:
                    r["error"] = "server error: " + json.dumps(j["error"])[:200]
                    return r
                now = time.perf_counter()
                choices = j.get("choices") or []
                if choices and choices[0].get("text"):
                    r["chunks"] += 1
                    if last is None:
                        r["ttft_s"] = now - sent
                    else:
                        r["itl_s"].append(now - last)
                    last = now
                usage = j.get("usage")
                if isinstance(usage, dict):
                    r["prompt_tokens"] = usage.get("prompt_tokens", 0)
                    r["output_tokens"] = usage.get("completion_tokens", 0)
        r["e2e_s"] = time.perf_counter() - sent
        if not done:
            r["error"] = "the event stream ended without data: [DONE]"
            return r
        if r["output_tokens"] == 0:  # no usage chunk: count text chunks
            r["output_tokens"] = r["chunks"]
        r["ok"] = True
    except (httpx.HTTPError, json.JSONDecodeError) as e:
        r["error"] = f"{type(e).__name__}: {e}"
    return r


async def run(o: argparse.Namespace) -> dict:
    # One prompt more than measured, for the warm-up: a server that caches prefixes must not
    # get a measured prompt for free.
    prompts = make_prompts(o.tokenizer, o.num_prompts + 1, o.input_len, o.seed)
    warm_prompt = prompts.pop()
    bodies = [{"prompt": p, "max_tokens": o.output_len, "temperature": 0, "ignore_eos": True,
               "stream": True, "stream_options": {"include_usage": True}} for p in prompts]
    concurrency = o.max_concurrency if o.max_concurrency > 0 else o.num_prompts
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=0)
    timeout = httpx.Timeout(o.timeout, connect=30)
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client:
        for _ in range(o.warmup):  # unmeasured: page-in, first-call allocations
            w = dict(bodies[0], prompt=warm_prompt, max_tokens=min(8, o.output_len))
            res = await one_request(client, o.url, w)
            if not res["ok"]:
                raise SystemExit(f"warm-up request failed: {res['error']}")
        results: list[dict | None] = [None] * len(bodies)
        next_i = 0

        async def worker() -> None:
            nonlocal next_i
            while next_i < len(bodies):
                i = next_i
                next_i += 1
                results[i] = await one_request(client, o.url, bodies[i])
                print(f"\rstream_load: {sum(r is not None for r in results)}/{len(bodies)}",
                      end="", file=sys.stderr, flush=True)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(bodies)))))
        duration = time.perf_counter() - start
        print(file=sys.stderr)

    ok = [r for r in results if r and r["ok"]]
    failed = [r for r in results if not (r and r["ok"])]
    out_tok = sum(r["output_tokens"] for r in ok)
    in_tok = sum(r["prompt_tokens"] for r in ok)
    ms = lambda xs: summarize([1000 * x for x in xs])  # noqa: E731
    return {
        "benchmark": "serve",
        "client": "bench/stream_load.py",
        "config": {"url": o.url, "num_prompts": o.num_prompts, "request_rate": "inf",
                   "max_concurrency": o.max_concurrency, "input_len": o.input_len,
                   "output_len": o.output_len, "seed": o.seed, "warmup": o.warmup},
        "completed": len(ok),
        "failed": len(failed),
        "duration_s": duration,
        "total_input_tokens": in_tok,
        "total_output_tokens": out_tok,
        "request_throughput": len(ok) / duration,
        "output_tokens_per_s": out_tok / duration,
        "total_tokens_per_s": (in_tok + out_tok) / duration,
        "ttft_ms": ms([r["ttft_s"] for r in ok]),
        "tpot_ms": ms([(r["e2e_s"] - r["ttft_s"]) / (r["output_tokens"] - 1)
                       for r in ok if r["output_tokens"] > 1]),
        "itl_ms": ms([x for r in ok for x in r["itl_s"]]),
        "e2e_ms": ms([r["e2e_s"] for r in ok]),
        "tokens_per_text_chunk": (sum(r["output_tokens"] for r in ok) /
                                  max(1, sum(r["chunks"] for r in ok))),
        "errors": [r["error"] if r else "not run" for r in failed][:5],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="http://HOST:PORT")
    p.add_argument("--tokenizer", required=True, help="SentencePiece tokenizer.model")
    p.add_argument("--num-prompts", type=int, default=32)
    p.add_argument("--max-concurrency", type=int, default=16)
    p.add_argument("--input-len", type=int, default=80)
    p.add_argument("--output-len", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=int, default=1, help="unmeasured short requests first")
    p.add_argument("--timeout", type=float, default=900, help="seconds per request")
    p.add_argument("--json", help="write the report here")
    o = p.parse_args()
    if min(o.num_prompts, o.input_len, o.output_len) < 1 or o.max_concurrency < 0:
        p.error("--num-prompts, --input-len and --output-len must be positive")
    o.url = o.url.rstrip("/").removesuffix("/v1")
    report = asyncio.run(run(o))
    f = lambda s: " / ".join(f"{s[k]:.1f}" for k in ("mean", "median", "p90", "p99"))  # noqa: E731
    print(f"serve: {o.url}  completed/failed {report['completed']}/{report['failed']}  "
          f"{report['duration_s']:.2f} s  output tok/s {report['output_tokens_per_s']:.1f}\n"
          f"  TTFT ms (mean/median/p90/p99) {f(report['ttft_ms'])}\n"
          f"  TPOT ms {f(report['tpot_ms'])}\n  ITL ms {f(report['itl_ms'])}")
    for e in report["errors"]:
        print(f"stream_load: a request failed: {e}", file=sys.stderr)
    if o.json:
        with open(o.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return 0 if report["failed"] == 0 and math.isfinite(report["duration_s"]) else 1


if __name__ == "__main__":
    sys.exit(main())
