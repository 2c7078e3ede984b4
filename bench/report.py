#!/usr/bin/env python3
"""Turns the JSON reports of bench/reproduce.sh into the markdown tables of bench/README.md and
one plot (throughput and p99 inter-token latency versus concurrency).

    .venv/bin/python bench/report.py RESULTS_DIR [--plot PATH.png]

Every fraction is taken against the limits of the same run's `roofline` report for that shape
and dtype (one probe per row, so rows are comparable), not each benchmark's own probe.
"""
import argparse
import json
import re
from pathlib import Path


def load(directory):
    """{(shape, dtype, kind): report} from files named SHAPE_DTYPE_KIND.json."""
    reports = {}
    for path in sorted(Path(directory).glob("*.json")):
        m = re.fullmatch(r"(.+?)_(f32|bf16|f16)_(.+)", path.stem)
        if m:
            reports[(m[1], m[2], m[3])] = json.loads(path.read_text())
    return reports


def pct(x):
    return f"{100 * x:.0f}%"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def keys(reports, kind_re):
    return sorted({(s, d, k) for (s, d, k) in reports if re.fullmatch(kind_re, k)},
                  key=lambda t: (t[0], t[1], int(re.sub(r"\D", "", t[2]) or 0)))


def shapes_dtypes(reports):
    return sorted({(s, d) for (s, d, k) in reports if k == "roofline"})


def limits_table(reports):
    rows = []
    for s, d in shapes_dtypes(reports):
        r = reports[(s, d, "roofline")]
        rows.append([s, d, f"{r['weight_bytes_per_token'] / 1e6:.0f} MB", f"{r['bandwidth_gb_per_s']:.1f}",
                     f"{r['gemm_gflop_per_s']:.1f}", f"{r['decode_bound_tokens_per_s']:.1f}",
                     f"{r['throughput_bound_tokens_per_s']:.1f}"])
    return table(["shape", "dtype", "weights/token", "bandwidth GB/s", "GEMM GFLOP/s",
                  "decode bound tok/s", "GEMM bound tok/s"], rows)


def decode_prefill_table(reports):
    rows = []
    for s, d in shapes_dtypes(reports):
        lim = reports[(s, d, "roofline")]
        dec, pre = reports.get((s, d, "decode")), reports.get((s, d, "prefill"))
        if not dec or not pre:
            continue
        dec_tps = dec["decode_tokens_per_s"]
        # Against the roofline's GEMM peak (prompt rows skip the output head; the benchmark's
        # own fraction already accounts for that). Runs with --skip-probe carry no fraction.
        frac_pre = ("-" if "limits" not in pre else
                    pct(pre["prefill_gemm_bound_fraction"] * pre["limits"]["gemm_gflop_per_s"]
                        / lim["gemm_gflop_per_s"]))
        rows.append([s, d, f"{dec_tps:.1f}", pct(dec_tps / lim["decode_bound_tokens_per_s"]),
                     paired(dec, "decode_bound_fraction_paired"),
                     f"{dec['decode_step_ms']:.1f}", f"{pre['config']['input_len']}",
                     f"{pre['prefill_tokens_per_s']:.1f}", frac_pre,
                     paired(pre, "prefill_gemm_bound_fraction_paired")])
    return table(["shape", "dtype", "decode tok/s (1 stream)", "of bandwidth bound", "paired",
                  "step ms", "prompt", "prefill tok/s", "of GEMM bound", "paired"], rows)


def paired(report, field):
    """A benchmark's median fraction against the limits measured right before each iteration."""
    return pct(report[field]) if field in report else "-"


def batch_decode_table(reports):
    rows = []
    for s, d, k in keys(reports, r"decode_b\d+"):
        r, lim = reports[(s, d, k)], reports[(s, d, "roofline")]
        single = reports.get((s, d, "decode"))
        agg = r["decode_batch_tokens_per_s"]
        rows.append([s, d, r["config"]["batch_size"], f"{r['decode_step_ms']:.1f}", f"{agg:.1f}",
                     pct(agg / lim["throughput_bound_tokens_per_s"]),
                     paired(r, "decode_gemm_bound_fraction_paired"),
                     f"{agg / single['decode_tokens_per_s']:.1f}x" if single else "-",
                     f"{lim['throughput_bound_tokens_per_s'] / lim['decode_bound_tokens_per_s']:.1f}x"])
    return table(["shape", "dtype", "sequences", "step ms", "decode tok/s (all)", "of GEMM bound",
                  "paired", "vs 1 stream", "bound: GEMM / bandwidth"], rows)


def gemm_table(reports):
    rows = []
    for s, d, k in keys(reports, r"gemm"):
        r = reports[(s, d, k)]
        for x in r["results"]:
            if "skipped" in x:
                rows.append([s, x["impl"], x["rows"], "skipped: " + x["skipped"], "", "", "", ""])
                continue
            rows.append([s, x["impl"], x["rows"], f"{x['pass_ms']:.2f}", f"{x['gflop_per_s']:.1f}",
                         pct(x["gemm_peak_fraction"]), f"{x['weight_gb_per_s']:.1f}",
                         pct(x["bandwidth_fraction"])])
    return table(["shape", "implementation", "rows", "ms per pass", "GFLOP/s", "of GEMM peak",
                  "weight GB/s", "of bandwidth"], rows)


def achieved_gflops(r, lim):
    """FLOP rate of a throughput run from its token counts and the roofline's parameter counts:
    prompt tokens and all sampled tokens but each request's last run through the layers, every
    sampled token through the head. None when the head's size is unknown."""
    head = lim.get("head_params")
    if head is None:
        return r.get("achieved_gflop_per_s")
    n = r["config"]["num_prompts"]
    forward = r["total_prompt_tokens"] + r["total_output_tokens"] - n
    flops = 2.0 * (forward * (lim["matmul_params"] - head) + r["total_output_tokens"] * head)
    return flops / r["elapsed_s"] / 1e9


def throughput_table(reports):
    rows = []
    for s, d, k in keys(reports, r"throughput_c\d+"):
        r, lim = reports[(s, d, k)], reports[(s, d, "roofline")]
        single = reports.get((s, d, "decode"))
        gflops = achieved_gflops(r, lim)
        rows.append([s, d, r["config"]["max_num_seqs"], f"{r['output_tokens_per_s']:.1f}",
                     f"{r['total_tokens_per_s']:.1f}", "-" if gflops is None else f"{gflops:.1f}",
                     "-" if gflops is None else pct(gflops / lim["gemm_gflop_per_s"]),
                     f"{r['output_tokens_per_s'] / single['decode_tokens_per_s']:.1f}x" if single else "-"])
    return table(["shape", "dtype", "concurrent seqs", "output tok/s", "total tok/s", "GFLOP/s",
                  "of GEMM peak", "vs 1 stream"], rows)


def serve_table(reports):
    rows = []
    for s, d, k in keys(reports, r"serve_c\d+"):
        r = reports[(s, d, k)]
        c = int(k.rsplit("c", 1)[1])
        rows.append([s, d, c, f"{r['ttft_ms']['median']:.0f}", f"{r['ttft_ms']['p99']:.0f}",
                     f"{r['tpot_ms']['median']:.1f}", f"{r['tpot_ms']['p99']:.1f}",
                     f"{r['itl_ms']['p99']:.1f}", f"{r['output_tokens_per_s']:.1f}",
                     f"{r['completed']}/{r['completed'] + r['failed']}"])
    return table(["shape", "dtype", "concurrency", "TTFT median ms", "TTFT p99 ms",
                  "TPOT median ms", "TPOT p99 ms", "ITL p99 ms", "output tok/s", "ok"], rows)


def plot(reports, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = sorted({s for (s, _, _) in reports})
    fig, axes = plt.subplots(1, len(shapes), figsize=(6 * len(shapes), 4.2), squeeze=False)
    for ax, shape in zip(axes[0], shapes):
        for d in ("f32", "bf16", "f16"):
            pts = sorted((reports[k]["config"]["max_num_seqs"], reports[k]["output_tokens_per_s"])
                         for k in keys(reports, r"throughput_c\d+") if k[0] == shape and k[1] == d)
            if pts:
                ax.plot(*zip(*pts), "o-", label=f"offline {d} output tok/s")
        serve = sorted((int(k[2].rsplit("c", 1)[1]), reports[k]) for k in keys(reports, r"serve_c\d+")
                       if k[0] == shape)
        if serve:
            ax.plot([c for c, _ in serve], [r["output_tokens_per_s"] for _, r in serve], "s--",
                    label="served bf16 output tok/s")
            ax2 = ax.twinx()
            ax2.plot([c for c, _ in serve], [r["itl_ms"]["p99"] for _, r in serve], "^:", color="tab:red",
                     label="served p99 ITL (ms)")
            ax2.set_ylabel("p99 inter-token latency (ms)", color="tab:red")
            ax2.legend(loc="lower right", fontsize=8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent sequences")
        ax.set_ylabel("output tokens/s")
        ax.set_title(shape)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--plot", help="PNG to write (default RESULTS/throughput_itl.png)")
    a = ap.parse_args()
    reports = load(a.results)
    if not reports:
        raise SystemExit(f"no SHAPE_DTYPE_KIND.json reports in {a.results}")
    any_report = next(iter(reports.values()))
    print(f"Machine: {any_report['machine']['cpu_model']}, {any_report['machine']['physical_cores']} cores; "
          f"commit {any_report['git_commit'][:10]}\n")
    for title, fn in (("Limits (llm-bench roofline)", limits_table),
                      ("Single stream: decode and a prompt's prefill", decode_prefill_table),
                      ("Batched decode (llm-bench latency --batch-size 32)", batch_decode_table),
                      ("Matrix products alone (llm-bench gemm)", gemm_table),
                      ("Offline throughput (llm-bench throughput)", throughput_table),
                      ("Serving (llm-bench serve against llm-serve)", serve_table)):
        print(f"### {title}\n\n{fn(reports)}\n")
    out = a.plot or str(Path(a.results) / "throughput_itl.png")
    plot(reports, out)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
