#!/usr/bin/env python3
"""The table of bench/compare_llamacpp.sh: llama.cpp beside llm-server, from one results folder.

    python3 bench/llamacpp_report.py RESULTS_DIR

Reads the raw reports the script left there (llama-bench JSON, llama-batched-bench JSONL,
llm-bench JSON, bench/stream_load.py JSON), prints one markdown table (measure | llama.cpp | ours |
ratio, ratio = ours / llama.cpp), the machine and its limits, and writes RESULTS_DIR/
peer_summary.json. Standard library only.
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def load(path: Path):
    if not path.exists():
        return None
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    # llama-bench -o json: one array; tolerate log lines before it.
    start = min((i for i in (text.find("["), text.find("{")) if i >= 0), default=-1)
    return json.loads(text[start:]) if start >= 0 else None


def llama_bench_rate(rows, n_prompt: int, n_gen: int, model_sub: str = ""):
    for r in rows or []:
        if r.get("n_prompt") == n_prompt and r.get("n_gen") == n_gen and \
                model_sub in r.get("model_filename", ""):
            return {"tokens_per_s": r["avg_ts"], "stddev": r.get("stddev_ts"),
                    "samples": r.get("samples_ts"), "model_type": r.get("model_type")}
    return None


def kernel_fields(report, prefix=""):
    """String fields of a report whose key names a kernel or ISA (as llm-bench may add them)."""
    found = {}
    if isinstance(report, dict):
        for k, v in report.items():
            if isinstance(v, str) and any(w in k.lower() for w in ("kernel", "isa", "cpu_features")):
                found[prefix + k] = v
            elif isinstance(v, dict):
                found.update(kernel_fields(v, prefix + k + "."))
    return found


def fmt(x, digits=1):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}" if abs(x) < 1e5 else f"{x:.3g}"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = Path(sys.argv[1])
    machine = load(d / "machine.json") or {}
    roof = load(d / "roofline_before.json") or {}
    roof_after = load(d / "roofline_after.json") or {}
    lb = load(d / "llamacpp_bench_pp.json") or load(d / "llamacpp_bench_bf16.json")
    batched = load(d / "llamacpp_batched.jsonl") or []
    # Single-stream decode: the sides take turns, round r in *_r{r}.json (older runs: one each).
    rounds = []
    r = 1
    while (d / f"ours_decode_r{r}.json").exists() and (d / f"llamacpp_bench_tg_r{r}.json").exists():
        rounds.append((r, load(d / f"llamacpp_bench_tg_r{r}.json"), load(d / f"ours_decode_r{r}.json")))
        r += 1
    if not rounds and (d / "ours_decode.json").exists():
        rounds.append((0, lb, load(d / "ours_decode.json")))
    o_dec = rounds[0][2] if rounds else {}
    o_pre = load(d / "ours_prefill.json") or {}
    o_b32 = load(d / "ours_decode_b32.json") or {}
    s_l = load(d / "llamacpp_serve.json") or {}
    s_o = load(d / "ours_serve.json") or {}
    s_oc = load(d / "ours_serve_llm_bench.json") or {}

    dec_cfg = o_dec.get("config", {})
    pre_cfg = o_pre.get("config", {})
    b32_cfg = o_b32.get("config", {})
    n_gen = 2 * dec_cfg.get("output_len", 64)
    n_pp = pre_cfg.get("input_len", 512)
    dec_rounds = []
    for r, l_tg, o_r in rounds:
        rate = llama_bench_rate(l_tg, 0, n_gen)
        dec_rounds.append({"round": r, "llama_cpp": rate and rate["tokens_per_s"],
                           "ours": o_r.get("decode_tokens_per_s"),
                           "llama_cpp_step": f"llamacpp_bench_tg_r{r}" if r else "llamacpp_bench_bf16",
                           "ours_step": f"ours_decode_r{r}" if r else "ours_decode"})
    med = lambda xs: statistics.median(xs) if xs else None  # noqa: E731
    tg_l = med([x["llama_cpp"] for x in dec_rounds if x["llama_cpp"]])
    tg_o = med([x["ours"] for x in dec_rounds if x["ours"]])
    tg_ratio = med([x["ours"] / x["llama_cpp"] for x in dec_rounds if x["ours"] and x["llama_cpp"]])
    tg = {"tokens_per_s": tg_l, "model_type": (llama_bench_rate(rounds[0][1], 0, n_gen) or {})
          .get("model_type")} if tg_l else None
    pp = llama_bench_rate(lb, n_pp, 0)
    b = b32_cfg.get("batch_size", 32)
    at_b = [r["speed_tg"] for r in batched if r.get("pl") == b]
    at_1 = [r["speed_tg"] for r in batched if r.get("pl") == 1]
    l_b32 = statistics.median(at_b) if at_b else None

    rows = []  # (measure, llama.cpp, ours, higher_is_better)

    def add(name, lv, ov, higher=True, digits=1):
        rows.append({"measure": name, "llama_cpp": lv, "ours": ov,
                     "ratio": (ov / lv) if (lv and ov is not None) else None,
                     "higher_is_better": higher, "digits": digits})

    add(f"decode tok/s, 1 stream (llama-bench tg{n_gen}; ours {dec_cfg.get('input_len')}+"
        f"{dec_cfg.get('output_len')}, median step; median of {len(dec_rounds)} alternating rounds)",
        tg_l, tg_o)
    rows[-1]["ratio"] = tg_ratio  # the median of the rounds' own ratios
    rows[-1]["rounds"] = dec_rounds
    add(f"prefill tok/s, {n_pp}-token prompt (llama-bench pp{n_pp})", pp and pp["tokens_per_s"],
        o_pre.get("prefill_tokens_per_s"))
    add(f"decode tok/s, {b} sequences together (batched-bench S_TG, {b32_cfg.get('input_len')}+"
        f"{b32_cfg.get('output_len')} each)", l_b32, o_b32.get("decode_batch_tokens_per_s"))
    scfg = s_o.get("config") or s_l.get("config") or {}
    tag = (f" ({scfg.get('num_prompts')} req, {scfg.get('max_concurrency')} at a time, "
           f"{scfg.get('input_len')}+{scfg.get('output_len')})") if scfg else ""
    get = lambda s, k, q: (s.get(k) or {}).get(q)  # noqa: E731
    add(f"serve: TTFT p50 ms{tag}", get(s_l, "ttft_ms", "median"), get(s_o, "ttft_ms", "median"),
        higher=False, digits=0)
    add("serve: TTFT p99 ms", get(s_l, "ttft_ms", "p99"), get(s_o, "ttft_ms", "p99"),
        higher=False, digits=0)
    add("serve: TPOT p50 ms", get(s_l, "tpot_ms", "median"), get(s_o, "tpot_ms", "median"),
        higher=False)
    add("serve: ITL p99 ms", get(s_l, "itl_ms", "p99"), get(s_o, "itl_ms", "p99"),
        higher=False, digits=0)
    add("serve: end-to-end p50 ms", get(s_l, "e2e_ms", "median"), get(s_o, "e2e_ms", "median"),
        higher=False, digits=0)
    add("serve: output tok/s (all requests)", s_l.get("output_tokens_per_s"),
        s_o.get("output_tokens_per_s"))
    add("serve: requests completed / failed", None, None)
    rows[-1]["text"] = (f"{s_l.get('completed', 'n/a')} / {s_l.get('failed', 'n/a')}",
                        f"{s_o.get('completed', 'n/a')} / {s_o.get('failed', 'n/a')}")

    # Limits are best-of, over the roofline runs and every probe around a step: another process
    # or tenant slows a probe, nothing makes one faster.
    limits = roof.get("limits", roof)
    la = roof_after.get("limits", roof_after)
    acct_rows = load(d / "cpu_accounting.jsonl") if (d / "cpu_accounting.jsonl").exists() else []
    step_probes = lambda k: [x for r in acct_rows or [] for x in (r.get(k) or []) if x]  # noqa: E731
    bw_all = [x for x in (limits.get("bandwidth_gb_per_s"), la.get("bandwidth_gb_per_s")) if x] + \
        step_probes("bandwidth_gb_per_s")
    pk_all = [x for x in (limits.get("gemm_gflop_per_s"), la.get("gemm_gflop_per_s")) if x] + \
        step_probes("peak_gflop_per_s")
    bw = max(bw_all, default=None)
    gemm = max(pk_all, default=None)
    wbytes = limits.get("weight_bytes_per_token") or la.get("weight_bytes_per_token")
    flops = limits.get("flops_per_token") or la.get("flops_per_token")
    dec_bound = bw * 1e9 / wbytes if bw and wbytes else None
    thr_bound = gemm * 1e9 / flops if gemm and flops else None

    # Other processes' CPU while each step ran (compare_llamacpp.sh's step accounting).
    acct = {r["step"]: r for r in load(d / "cpu_accounting.jsonl") or []} \
        if (d / "cpu_accounting.jsonl").exists() else {}
    share = lambda *steps: max([(acct.get(x) or {}).get("other_share") or 0 for x in steps])  # noqa: E731
    pp_step = "llamacpp_bench_pp" if "llamacpp_bench_pp" in acct else "llamacpp_bench_bf16"
    row_steps = [([x["llama_cpp_step"] for x in dec_rounds] or ["-"],
                  [x["ours_step"] for x in dec_rounds] or ["-"]),
                 ([pp_step], ["ours_prefill"]), (["llamacpp_batched"], ["ours_decode_b32"])] + \
        [(["llamacpp_serve"], ["ours_serve"])] * 7
    for r, (ls, os_) in zip(rows, row_steps):
        r["other_cpu_share"] = {"llama_cpp": share(*ls), "ours": share(*os_)}

    print(f"## llama.cpp vs llm-server: {machine.get('cpu_model', '?')}, "
          f"{machine.get('threads', '?')} threads, bf16 weights of one checkpoint")
    print()
    print("| measure | llama.cpp | ours | ratio (ours / llama.cpp) |")
    print("|---|---|---|---|")
    for r in rows:
        if "text" in r:
            print(f"| {r['measure']} | {r['text'][0]} | {r['text'][1]} | |")
            continue
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        if r["ratio"] is not None and not r["higher_is_better"]:
            ratio += " (lower is better)"
        mark = lambda side: " (!)" if ((r.get("other_cpu_share") or {}).get(side) or 0) > 0.1 else ""  # noqa: E731
        print(f"| {r['measure']} | {fmt(r['llama_cpp'], r['digits'])}{mark('llama_cpp')} | "
              f"{fmt(r['ours'], r['digits'])}{mark('ours')} | {ratio} |")
    print()

    # The same GGUF files read by both (the quant stage): decode (alternating rounds, median),
    # prefill, 32 sequences, and our peak RSS beside the file's size.
    quant = []
    for q in ("q8_0", "q4_0", "q4_k_m"):
        row = {"type": q.upper()}
        lp = load(d / f"llamacpp_{q}_pp.json")
        op = load(d / f"ours_{q}_prefill.json") or {}
        if lp is None and not op:
            continue
        row["prefill"] = ((llama_bench_rate(lp, n_pp, 0) or {}).get("tokens_per_s"),
                          op.get("prefill_tokens_per_s"))
        pairs, r = [], 1
        while (d / f"llamacpp_{q}_tg_r{r}.json").exists():
            lt = llama_bench_rate(load(d / f"llamacpp_{q}_tg_r{r}.json"), 0, n_gen)
            ot = (load(d / f"ours_{q}_decode_r{r}.json") or {}).get("decode_tokens_per_s")
            pairs.append((lt and lt["tokens_per_s"], ot))
            r += 1
        row["decode"] = (med([x for x, _ in pairs if x]), med([y for _, y in pairs if y]))
        row["decode_round_ratios"] = [y / x for x, y in pairs if x and y]
        lb_rows = load(d / f"llamacpp_{q}_batched.jsonl") or []
        ob = load(d / f"ours_{q}_decode_b32.json") or {}
        # Both aggregate: llama-batched-bench's S_TG is the batch's tokens per second.
        row["decode_32"] = (med([x["speed_tg"] for x in lb_rows if x.get("pl") == b]),
                            ob.get("decode_batch_tokens_per_s"))
        fb = d / f"{q}_file_bytes.txt"
        row["file_bytes"] = int(fb.read_text()) if fb.exists() else None
        row["ours_resident_bytes"] = ob.get("resident_bytes")
        row["ours_weight_bytes"] = ob.get("weight_bytes")
        row["ours_kv_cache_bytes"] = ob.get("kv_cache_bytes")
        row["ours_kernels"] = ob.get("kernels")
        quant.append(row)
    if quant:
        print("Quantized GGUF files (llama-quantize's, of the bf16 one above), read by both:")
        print()
        print("| type | measure | llama.cpp | ours | ratio |")
        print("|---|---|---|---|---|")
        for q in quant:
            for key, name in (("decode", "decode tok/s, 1 stream (median of rounds)"),
                              ("prefill", f"prefill tok/s, {n_pp} tokens"),
                              ("decode_32", f"decode tok/s, {b} sequences together")):
                lv, ov = q[key]
                ratio = f"{ov / lv:.2f}x" if lv and ov else ""
                if key == "decode" and q["decode_round_ratios"]:
                    ratio = f"{med(q['decode_round_ratios']):.2f}x (rounds: " + ", ".join(
                        f"{x:.2f}" for x in q["decode_round_ratios"]) + ")"
                print(f"| {q['type']} | {name} | {fmt(lv)} | {fmt(ov)} | {ratio} |")
            if q["file_bytes"] and q["ours_resident_bytes"] and q["ours_kv_cache_bytes"]:
                want = q["file_bytes"] + q["ours_kv_cache_bytes"]
                print(f"| {q['type']} | MB: file + our KV pool / our resident set after the run "
                      f"(weights held: {q['ours_weight_bytes'] / 1e6:,.0f}) | {want / 1e6:,.0f} | "
                      f"{q['ours_resident_bytes'] / 1e6:,.0f} | {q['ours_resident_bytes'] / want:.2f}x |")
        print()

    if any(v > 0.1 for r in rows for v in (r.get("other_cpu_share") or {}).values() if v):
        print("(!): other processes took over 10% of the machine's CPU while this was measured "
              "(cpu_accounting.jsonl).\n")
    print(f"Limits (`llm-bench roofline --dtype bf16`, best of {len(bw_all)} probes: before and "
          "after the runs and around every step):")
    print(f"- memory bandwidth {fmt(bw)} GB/s (probes from {fmt(min(bw_all, default=None))}; "
          f"median {fmt(statistics.median(bw_all) if bw_all else None)}); peak for bf16 weights "
          f"{fmt(gemm)} GFLOP/s ({limits.get('gemm_instruction', 'FMA')}; median "
          f"{fmt(statistics.median(pk_all) if pk_all else None)})")
    if dec_bound and wbytes:
        print(f"- bf16 weights read per token: {wbytes / 1e6:,.0f} MB, so single-stream decode "
              f"<= {fmt(dec_bound)} tok/s; FLOPs ({flops / 1e9:.2f} GFLOP a token, output head "
              f"included) allow <= {fmt(thr_bound)} tok/s")
        for name, v in (("llama.cpp", tg and tg["tokens_per_s"]),
                        ("ours", o_dec.get("decode_tokens_per_s"))):
            if v:
                print(f"  - {name} decode at {100 * v / dec_bound:.0f}% of the bandwidth bound")
        for name, v in (("llama.cpp", pp and pp["tokens_per_s"]),
                        ("ours", o_pre.get("prefill_tokens_per_s"))):
            if v and thr_bound:
                print(f"  - {name} prefill at {100 * v / thr_bound:.0f}% of the FLOPs bound")
        for name, v in (("llama.cpp", l_b32), ("ours", o_b32.get("decode_batch_tokens_per_s"))):
            if v and thr_bound:
                print(f"  - {name} {b}-sequence decode at {100 * v / thr_bound:.0f}% of the FLOPs bound")
    # Each side against the limits probed right before and after its own run.
    def around(step, key):
        xs = [x for x in ((acct.get(step) or {}).get(key) or []) if x]
        return sum(xs) / len(xs) if xs else None

    paired = []
    # Decode: each round against its own probes, then the median over rounds.
    fr = [(x["llama_cpp"] / (around(x["llama_cpp_step"], "bandwidth_gb_per_s") * 1e9 / wbytes),
           x["ours"] / (around(x["ours_step"], "bandwidth_gb_per_s") * 1e9 / wbytes),
           around(x["llama_cpp_step"], "bandwidth_gb_per_s"), around(x["ours_step"], "bandwidth_gb_per_s"))
          for x in dec_rounds if x["llama_cpp"] and x["ours"] and wbytes and
          around(x["llama_cpp_step"], "bandwidth_gb_per_s") and around(x["ours_step"], "bandwidth_gb_per_s")]
    if fr:
        paired.append({"measure": "decode, 1 stream: of the bandwidth bound (median of the rounds)",
                       "llama_cpp": med([f[0] for f in fr]), "ours": med([f[1] for f in fr]),
                       "limit_llama_cpp": med([f[2] for f in fr]), "limit_ours": med([f[3] for f in fr]),
                       "unit": "bandwidth_gb_per_s",
                       "rounds": [{"llama_cpp": f[0], "ours": f[1]} for f in fr]})
    for name, lstep, lv, ostep, ov, key, per_token in (
            (f"prefill, {n_pp} tokens: of the bf16 peak", pp_step,
             pp and pp["tokens_per_s"], "ours_prefill", o_pre.get("prefill_tokens_per_s"),
             "peak_gflop_per_s", flops),
            (f"decode, {b} sequences: of the bf16 peak", "llamacpp_batched", l_b32,
             "ours_decode_b32", o_b32.get("decode_batch_tokens_per_s"), "peak_gflop_per_s", flops)):
        lim_l, lim_o = around(lstep, key), around(ostep, key)
        if not (lim_l and lim_o and per_token and lv and ov):
            continue
        fl, fo = lv / (lim_l * 1e9 / per_token), ov / (lim_o * 1e9 / per_token)
        paired.append({"measure": name, "llama_cpp": fl, "ours": fo,
                       "limit_llama_cpp": lim_l, "limit_ours": lim_o, "unit": key})
    if paired:
        print()
        print("Each side against the limits probed just before and after its own run "
              "(mean of the two probes):")
        print()
        print("| measure | llama.cpp | ours |")
        print("|---|---|---|")
        for p in paired:
            unit = "GB/s" if p["unit"].startswith("bandwidth") else "GFLOP/s"
            print(f"| {p['measure']} | {100 * p['llama_cpp']:.0f}% (of {p['limit_llama_cpp']:.1f} "
                  f"{unit}) | {100 * p['ours']:.0f}% (of {p['limit_ours']:.1f} {unit}) |")
    print()
    print(f"Machine: {machine.get('cpu_model', '?')}, {machine.get('logical_cpus', '?')} CPUs; "
          f"AVX-512: {' '.join(machine.get('avx512_flags', [])) or 'none'}")
    if isinstance(o_dec.get("kernels"), dict):  # llm-bench latency's own record
        kernels = ", ".join(f"{k} {v}" for k, v in o_dec["kernels"].items())
        isa = (o_dec.get("machine") or {}).get("cpu_isa")
        kernels += f" (ISA {isa})" if isa else ""
    else:
        kf = kernel_fields(o_dec) or kernel_fields(roof)
        kernels = ("; ".join(f"{k}: {v}" for k, v in kf.items()) if kf else
                   f"LLM_CPU_KERNELS={machine.get('LLM_CPU_KERNELS', 'auto')} "
                   "(this build's llm-bench reports no kernel name)")
    print(f"Our kernels: {kernels}")
    print(f"llama.cpp: {machine.get('llama_cpp_source', '?')}"
          f"{' (' + machine['llama_cpp_upstream'] + ')' if machine.get('llama_cpp_upstream') else ''}, "
          f"CPU backend, {(tg or {}).get('model_type', '')}")
    vs_result = load(d / "llm_bench_serve_vs_llamacpp.json")
    if vs_result:
        print(f"llm-bench serve against llama-server: {'ok' if vs_result.get('ok') else 'failed'}: "
              f"{vs_result.get('last_line')}")
    if s_oc:
        print(f"Client cross-check on llm-serve: llm-bench serve {fmt(s_oc.get('output_tokens_per_s'))}"
              f" output tok/s, TTFT p50 {fmt(get(s_oc, 'ttft_ms', 'median'), 0)} ms vs "
              f"stream_load.py {fmt(s_o.get('output_tokens_per_s'))} and "
              f"{fmt(get(s_o, 'ttft_ms', 'median'), 0)} ms")
    build_s = d / "llama_build_seconds.txt"
    if build_s.exists():
        print(f"llama.cpp build (4 tools, -j2): {int(build_s.read_text().strip())} s")

    summary = {
        "machine": machine,
        "our_kernels": kernels,
        "rows": [{k: v for k, v in r.items() if k != "digits"} for r in rows],
        "llamacpp_quantized": quant,
        "llamacpp_batched_bench_decode_tokens_per_s": {"pl_1": at_1, f"pl_{b}": at_b},
        "limits": {"bandwidth_gb_per_s": bw, "peak_gflop_per_s": gemm,
                   "bandwidth_probes_gb_per_s": bw_all, "peak_probes_gflop_per_s": pk_all,
                   "decode_bound_tokens_per_s": dec_bound, "flops_bound_tokens_per_s": thr_bound,
                   "weight_bytes_per_token": wbytes, "flops_per_token": flops},
        "limits_probes": [{k: x.get(k) for k in ("bandwidth_gb_per_s", "bandwidth_1t_gb_per_s",
                                                 "gemm_gflop_per_s", "fma_gflop_per_s",
                                                 "gemm_instruction", "kernel_matmul_gflop_per_s")}
                          for x in (limits, la)],
        "paired_fractions": paired,
        "cpu_accounting": list(acct.values()),
        "llm_bench_serve_against_llama_server": vs_result,
        "llama_cpp_build_seconds": (int(build_s.read_text().strip()) if build_s.exists() else None),
        "serve_client_cross_check": {
            "llm_bench_serve_output_tokens_per_s": s_oc.get("output_tokens_per_s"),
            "llm_bench_serve_ttft_ms_median": get(s_oc, "ttft_ms", "median"),
            "stream_load_output_tokens_per_s": s_o.get("output_tokens_per_s"),
            "stream_load_ttft_ms_median": get(s_o, "ttft_ms", "median")},
    }
    (d / "peer_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
