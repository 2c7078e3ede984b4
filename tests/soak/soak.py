"""Soak test of llm-serve: many concurrent loopback clients send random valid and invalid
requests, stream and hang up, while a monitor checks /health and samples the server's RSS and
thread count. At the end every request must have had exactly one outcome, the engine must be idle
with its KV pool free, no thread may have leaked and RSS growth must stay bounded.

    python tests/soak/soak.py --duration 120 --clients 16
"""
import argparse
import collections
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import Server  # noqa: E402
from soak_client import Client, GreedyBook  # noqa: E402

# A small pool (64 blocks of 16 tokens: 1024 tokens) so that 16 clients, some with prompts of
# 200 tokens and n up to 3, run it dry now and then: preemption is part of the soak. One request
# needs at most 3 x 16 blocks, so each still fits on its own.
NUM_BLOCKS = 64
# stories260K: K and V x 5 layers x 4 KV heads x head_dim 8 x 16 tokens x 4 bytes (f32).
KV_BLOCK_BYTES = 2 * 5 * 4 * 8 * 16 * 4
# What RSS may grow by from the sample after warm-up to the end. The KV pool is allocated
# up front but its pages are only touched as blocks are first used, so all of it may show up.
# On top of that: malloc arenas of the io, engine and pool threads, connection buffers and the
# prefix cache's tables, all bounded by the concurrency, not by the number of requests, for
# which 48 MiB is ample. A per-request leak of 2 KiB would outgrow it: a 120 s soak with 16
# clients sends ~30,000 requests.
RSS_SLACK = 48 << 20
# What RSS may grow by over the second half of the run, when every pool and arena has long been
# warm: 8 MiB, about 0.5 KiB per request of the second half of a 120 s soak.
RSS_LATE_SLACK = 8 << 20


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["Threads"])


class Monitor(threading.Thread):
    """/health every `period` s (must be 200 throughout) and RSS / thread samples."""

    def __init__(self, server, period=0.25):
        super().__init__(daemon=True)
        self.server, self.period = server, period
        self.stop = threading.Event()
        self.health_ok = self.health_failed = 0
        self.slowest = 0.0
        self.failures = []
        self.samples = []  # (time, rss, threads)

    def run(self):
        while not self.stop.is_set():
            t = time.time()
            status = self.server.health()
            self.slowest = max(self.slowest, time.time() - t)
            if status == 200:
                self.health_ok += 1
            else:
                self.health_failed += 1
                self.failures.append(f"{t:.1f}: /health -> {status}")
            self.samples.append((t, *proc_status(self.server.proc.pid)))
            self.stop.wait(self.period)

    @property
    def requests(self):
        return self.health_ok + self.health_failed


def client_loop(port, seed, deadline, book, results):
    client = Client(port, random.Random(seed), book)
    while time.time() < deadline:
        results.append(client.one())
    client._drop()


def http_counted(metrics):
    return int(sum(v for k, v in metrics.items() if k.startswith("llm_http_requests_total")))


def quiesce(server, expected_http, timeout=30):
    """Polls /metrics until the engine is idle, the pool free and every request counted."""
    end = time.time() + timeout
    scrapes = 0
    while True:
        m = server.metrics()
        state = {"running": m["llm_num_requests_running"], "waiting": m["llm_num_requests_waiting"],
                 "kv_usage": m["llm_kv_cache_usage_perc"], "http_counted": http_counted(m),
                 "http_expected": expected_http + scrapes, "preemptions": int(m["llm_num_preemptions"]),
                 "http_by_status": {k.split("'")[3]: int(v) for k, v in m.items()
                                    if k.startswith("llm_http_requests_total[")}}
        scrapes += 1
        idle = state["running"] == 0 and state["waiting"] == 0 and state["kv_usage"] == 0
        if (idle and state["http_counted"] == state["http_expected"]) or time.time() > end:
            return state
        time.sleep(0.2)


def run_soak(duration, clients, seed=1, extra_args=()):
    """Runs the soak; returns (report dict, list of failed checks)."""
    # Under AddressSanitizer freed memory waits in a quarantine that grows with churn; without it
    # RSS shows what the server itself holds.
    asan = (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0").lstrip(":")
    server = Server("--num-blocks", str(NUM_BLOCKS), *extra_args, env={"ASAN_OPTIONS": asan})
    try:
        rss0, threads0 = proc_status(server.proc.pid)
        # Start-up's /health polls are counted too; this scrape is, after it is answered.
        baseline = http_counted(server.metrics()) + 1
        monitor = Monitor(server)
        monitor.start()
        book = GreedyBook()
        per_client = [[] for _ in range(clients)]
        start = time.time()
        workers = [threading.Thread(target=client_loop, args=(server.port, seed * 1000 + i, start + duration,
                                                              book, per_client[i]))
                   for i in range(clients)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(duration + 300)
        elapsed = time.time() - start
        hung = sum(w.is_alive() for w in workers)
        monitor.stop.set()
        monitor.join()
        outcomes = [o for r in per_client for o in r]
        reached = sum(o.reaches_handler for o in outcomes)
        state = quiesce(server, baseline + reached + monitor.requests)
        time.sleep(0.5)  # the io threads go back to waiting; nothing should be left to end
        rss1, threads1 = proc_status(server.proc.pid)
        mid = [s for s in monitor.samples if s[0] >= start + duration / 2]
        rss_mid = mid[0][1] if mid else rss0
        code = server.stop()
    except BaseException:
        server.stop()
        raise

    kinds = collections.Counter(o.kind for o in outcomes)
    report = {
        "requests": len(outcomes), "concurrency": clients, "duration_s": round(elapsed, 1),
        "req_per_s": round(len(outcomes) / elapsed, 1),
        "outcomes": dict(kinds),
        "ok_by_kind": dict(collections.Counter(o.detail for o in outcomes if o.kind == "ok")),
        "errors_by_status": dict(sorted(collections.Counter(o.status for o in outcomes if o.kind == "error").items())),
        "hangups_by_kind": dict(collections.Counter(o.detail for o in outcomes if o.kind == "hangup")),
        "bad": [o.detail for o in outcomes if o.kind == "bad"][:20],
        "greedy_repeats_checked": book.checked,
        "health": {"ok": monitor.health_ok, "failed": monitor.health_failed, "slowest_ms": round(monitor.slowest * 1000),
                   "first_failures": monitor.failures[:5]},
        "server_after": state,
        "rss_mib": {"start": round(rss0 / 2**20, 1), "mid": round(rss_mid / 2**20, 1), "end": round(rss1 / 2**20, 1),
                    "max": round(max(s[1] for s in monitor.samples) / 2**20, 1) if monitor.samples else None},
        "threads": {"start": threads0, "end": threads1,
                    "max": max(s[2] for s in monitor.samples) if monitor.samples else None},
        "exit_code": code,
    }
    checks = {
        "every request has exactly one outcome": len(outcomes) == sum(kinds.values()) and hung == 0,
        "no bad outcome": kinds["bad"] == 0,
        "/health answered 200 throughout": monitor.health_failed == 0 and monitor.health_ok > 0,
        "server counted each request once": state["http_counted"] == state["http_expected"],
        "engine idle: 0 running, 0 waiting": state["running"] == 0 and state["waiting"] == 0,
        "KV pool free (usage 0)": state["kv_usage"] == 0,
        "no thread leaked": threads1 == threads0,
        f"RSS growth <= KV pool + {RSS_SLACK >> 20} MiB": rss1 - rss0 <= NUM_BLOCKS * KV_BLOCK_BYTES + RSS_SLACK,
        f"RSS growth over the second half <= {RSS_LATE_SLACK >> 20} MiB": rss1 - rss_mid <= RSS_LATE_SLACK,
        "clean exit (0) on SIGTERM": code == 0,
    }
    return report, [name for name, ok in checks.items() if not ok], checks


def print_summary(report, checks, out=sys.stdout):
    r = report
    rows = [("requests", r["requests"]), ("concurrency (clients)", r["concurrency"]),
            ("duration", f"{r['duration_s']} s ({r['req_per_s']} req/s)"),
            ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))),
            ("  ok by kind", ", ".join(f"{k} {v}" for k, v in sorted(r["ok_by_kind"].items()))),
            ("  errors by status", ", ".join(f"{k}: {v}" for k, v in r["errors_by_status"].items())),
            ("  hang-ups by kind", ", ".join(f"{k} {v}" for k, v in sorted(r["hangups_by_kind"].items()))),
            ("greedy repeats checked", r["greedy_repeats_checked"]),
            ("/health", f"{r['health']['ok']} x 200, {r['health']['failed']} failed, slowest "
                        f"{r['health']['slowest_ms']} ms"),
            ("preemptions", r["server_after"]["preemptions"]),
            ("after: running/waiting/KV", f"{r['server_after']['running']:g} / {r['server_after']['waiting']:g} / "
                                          f"{r['server_after']['kv_usage']:g}"),
            ("server HTTP counted/expected", f"{r['server_after']['http_counted']} / {r['server_after']['http_expected']}"),
            ("RSS MiB start/mid/end (max)", f"{r['rss_mib']['start']} / {r['rss_mib']['mid']} / {r['rss_mib']['end']}"
                                            f" ({r['rss_mib']['max']})"),
            ("threads start/end (max)", f"{r['threads']['start']} / {r['threads']['end']} ({r['threads']['max']})")]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}", file=out)
    for name, ok in checks.items():
        print(f"[{'PASS' if ok else 'FAIL'}] {name}", file=out)
    for b in r["bad"]:
        print("bad:", b, file=out)
    for f in r["health"]["first_failures"]:
        print("health:", f, file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60, help="seconds of load")
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    report, failed, checks = run_soak(args.duration, args.clients, args.seed)
    print_summary(report, checks)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
