"""The benchmark tools end to end, at tiny sizes: they run, their JSON is complete and sane, and
`llm-bench serve` counts the same tokens as the server's /metrics. Never timed assertions."""
import importlib.util
import json
import math
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The server tests' launcher, loaded under its own name so it never shadows a conftest.
_spec = importlib.util.spec_from_file_location("server_launcher", ROOT / "tests" / "server" / "conftest.py")
_launcher = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_launcher)
BIN_DIR, MODEL, Server = _launcher.BIN_DIR, _launcher.MODEL, _launcher.Server

BENCH = str(BIN_DIR / "llm-bench")
TIMEOUT = 300


def run(*args, check=True):
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=TIMEOUT)
    if check and out.returncode != 0:
        raise AssertionError(f"{args} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out


def positive(report, *fields):
    for f in fields:
        v = report[f]
        assert isinstance(v, (int, float)) and math.isfinite(v) and v > 0, (f, v)


def check_common(report, benchmark):
    assert report["benchmark"] == benchmark
    commit = report["git_commit"]
    assert commit == "unknown" or (len(commit) == 40 and all(c in "0123456789abcdef" for c in commit))
    assert report["machine"]["cpu_model"]
    positive(report["machine"], "physical_cores", "logical_cpus")
    assert isinstance(report["config"], dict)


def check_limits(limits):
    positive(limits, "bandwidth_gb_per_s", "gemm_gflop_per_s", "decode_bound_tokens_per_s",
             "throughput_bound_tokens_per_s", "weight_bytes_per_token", "flops_per_token")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "model"
    run(BIN_DIR / "llm-make-model", "--shape", "CUSTOM", "--dim", 64, "--layers", 2, "--heads", 4,
        "--ffn", 128, "--vocab", 32000, "--context", 256, "--dtype", "bf16", "--seed", 7, "--out", out)
    return out


def test_make_model_writes_a_loadable_checkpoint(tiny_model):
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["hidden_size"] == 64 and config["num_hidden_layers"] == 2
    assert config["vocab_size"] == 32000 and config["torch_dtype"] == "bfloat16"
    for name in ("model.safetensors", "tokenizer.model", "tokenizer_config.json", "generation_config.json"):
        assert (tiny_model / name).is_file(), name
    out = run(BIN_DIR / "llm-generate", "--model", tiny_model, "--prompt", "hi", "--max-tokens", 5, "--json")
    result = json.loads(out.stdout)
    assert 1 <= len(result["output_token_ids"]) <= 5
    assert all(0 <= t < 32000 for t in result["output_token_ids"])


def test_make_model_is_deterministic_per_seed(tiny_model, tmp_path):
    run(BIN_DIR / "llm-make-model", "--shape", "CUSTOM", "--dim", 64, "--layers", 2, "--heads", 4,
        "--ffn", 128, "--vocab", 32000, "--context", 256, "--dtype", "bf16", "--seed", 7, "--out", tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == (tiny_model / "model.safetensors").read_bytes()


@pytest.mark.parametrize("family", ["llama", "qwen2", "qwen3", "gemma3"])
def test_make_model_families_generate_through_padded_ids(tmp_path, family):
    """Every family llm-make-model writes loads and generates. The vocabulary (40,000) is larger
    than the tokenizer's (32,000), as Qwen and Gemma pad theirs: the random weights sample ids
    past the tokenizer, which add no text and must not stop the engine."""
    run(BIN_DIR / "llm-make-model", "--shape", "CUSTOM", "--family", family, "--dim", 64, "--layers", 2,
        "--heads", 4, "--ffn", 128, "--vocab", 40000, "--context", 256, "--dtype", "bf16", "--seed", 3,
        "--out", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
                                    "gemma3": "gemma3_text"}[family]
    out = run(BIN_DIR / "llm-generate", "--model", tmp_path, "--prompt", "hi", "--max-tokens", 32, "--json")
    result = json.loads(out.stdout)
    assert result["finish_reason"] == "length" and len(result["output_token_ids"]) == 32
    assert any(t >= 32000 for t in result["output_token_ids"]), "no padded id sampled: the test tests nothing"


def test_make_model_rejects_bad_flags(tmp_path):
    assert run(BIN_DIR / "llm-make-model", "--shape", "huge", "--out", tmp_path, check=False).returncode == 2
    assert run(BIN_DIR / "llm-make-model", "--shape", "CUSTOM", "--dim", 64, "--out", tmp_path,
               check=False).returncode == 2
    small_vocab = run(BIN_DIR / "llm-make-model", "--shape", "CUSTOM", "--dim", 64, "--layers", 1,
                      "--heads", 4, "--ffn", 128, "--vocab", 100, "--out", tmp_path, check=False)
    assert small_vocab.returncode == 1 and "tokenizer" in small_vocab.stderr


def test_throughput(tmp_path):
    path = tmp_path / "throughput.json"
    out = run(BENCH, "throughput", "--model", MODEL, "--num-prompts", 6, "--input-len", 16,
              "--output-len", 8, "--max-num-seqs", 4, "--json", path)
    assert "output tokens/s" in out.stdout
    report = json.loads(path.read_text())
    check_common(report, "throughput")
    positive(report, "requests_per_s", "output_tokens_per_s", "total_tokens_per_s", "elapsed_s")
    assert report["total_output_tokens"] == 6 * 8
    assert report["config"]["max_num_seqs"] == 4
    check_limits(report["limits"])


def test_latency(tmp_path):
    path = tmp_path / "latency.json"
    run(BENCH, "latency", "--model", MODEL, "--batch-size", 2, "--input-len", 8, "--output-len", 6,
        "--num-iters", 2, "--json", path)
    report = json.loads(path.read_text())
    check_common(report, "latency")
    positive(report, "prefill_tokens_per_s", "decode_tokens_per_s", "decode_step_ms", "prefill_s")
    assert len(report["iterations"]) == 2
    check_limits(report["limits"])
    # Each iteration carries the limits measured right before it, and the paired fractions.
    for it in report["iterations"]:
        positive(it, "bandwidth_gb_per_s", "gemm_gflop_per_s")
    positive(report, "decode_bound_fraction_paired", "decode_gemm_bound_fraction_paired",
             "prefill_gemm_bound_fraction_paired")


def test_sample(tmp_path):
    path = tmp_path / "sample.json"
    out = run(BENCH, "sample", "--vocab", "1000,3000", "--iters", 3, "--json", path)
    assert "vocab 3000" in out.stdout
    report = json.loads(path.read_text())
    check_common(report, "sample")
    assert len(report["results"]) == 2 * 5
    for r in report["results"]:
        positive(r["us"], "median")


def test_roofline(tmp_path):
    path = tmp_path / "roofline.json"
    out = run(BENCH, "roofline", "--model", MODEL, "--buffer-mib", 64, "--json", path)
    assert "decode bound" in out.stdout
    report = json.loads(path.read_text())
    check_common(report, "roofline")
    positive(report, "bandwidth_gb_per_s", "gemm_gflop_per_s", "decode_bound_tokens_per_s",
             "throughput_bound_tokens_per_s")
    # stories260K: dim 64, 5 layers, q 64, kv 32, ffn 172, vocab 512, tied.
    per_layer = 64 * (64 + 2 * 32) + 64 * 64 + 3 * 172 * 64
    assert report["limits"]["matmul_params"] == 5 * per_layer + 512 * 64


def test_gemm_runs_each_implementation_against_float64(tmp_path):
    path = tmp_path / "gemm.json"
    out = run(BENCH, "gemm", "--model", MODEL, "--layers", 1, "--rows", 1, 7,
              "--min-seconds", 0.01, "--json", path)
    assert "engine-bf16" in out.stdout
    report = json.loads(path.read_text())
    check_common(report, "gemm")
    positive(report["limits"], "gemm_gflop_per_s", "bandwidth_gb_per_s")
    by_impl = {}
    for r in report["results"]:
        by_impl.setdefault(r["impl"], []).append(r)
    # Every build has the engine's kernels; OpenBLAS and oneDNN only with LLM_BENCH_LIBRARIES.
    for impl in ("engine-f32", "engine-bf16"):
        assert [r["rows"] for r in by_impl[impl]] == [1, 7]
        for r in by_impl[impl]:
            positive(r, "pass_ms", "gflop_per_s", "weight_gb_per_s")
            # The weights are bf16-representable, so both paths multiply the same numbers: only
            # f32 rounding separates them from the float64 product.
            assert r["rel_error"] < 1e-5, r


def test_gemm_unknown_implementation_is_a_clear_error():
    out = run(BENCH, "gemm", "--model", MODEL, "--impl", "mkl", check=False)
    assert out.returncode == 1 and "no GEMM implementation 'mkl'" in out.stderr


def test_bad_flags_exit_2():
    assert run(BENCH, check=False).returncode == 2
    assert run(BENCH, "nonsense", check=False).returncode == 2
    assert run(BENCH, "gemm", "--model", MODEL, "--rows", 0, check=False).returncode == 2
    assert run(BENCH, "throughput", "--model", MODEL, "--num-prompts", 0, check=False).returncode == 2
    assert run(BENCH, "serve", "--url", "ftp://x", check=False).returncode == 2
    assert run(BENCH, "sample", "--vocab", "1000,x", check=False).returncode == 2
    assert run(BENCH, "throughput", "--model", MODEL, "--max-prefill-tokens-per-step", -1,
               check=False).returncode == 2
    assert run(BENCH, "serve", "--url", "http://127.0.0.1:1", "--request-rate", "fast",
               check=False).returncode == 2


def test_context_overflow_is_a_clear_error():
    out = run(BENCH, "throughput", "--model", MODEL, "--num-prompts", 1, "--input-len", 500,
              "--output-len", 100, "--skip-probe", check=False)
    assert out.returncode == 1 and "context" in out.stderr


def generated_tokens(server):
    return server.metrics().get("llm_generation_tokens_total", 0.0)


@pytest.mark.parametrize("rate,concurrency", [("inf", 3), ("50", 0)])
def test_serve_agrees_with_metrics(tmp_path, rate, concurrency):
    server = Server("--max-num-seqs", "8")
    try:
        before = generated_tokens(server)
        path = tmp_path / "serve.json"
        out = run(BENCH, "serve", "--url", server.url, "--num-prompts", 8, "--request-rate", rate,
                  "--max-concurrency", concurrency, "--input-len", 12, "--output-len", 6, "--json", path)
        assert "TTFT" in out.stdout
        report = json.loads(path.read_text())
        check_common(report, "serve")
        assert report["completed"] == 8 and report["failed"] == 0
        assert report["total_output_tokens"] == 8 * 6
        assert report["total_input_tokens"] == 8 * 12
        assert generated_tokens(server) - before == report["total_output_tokens"]
        positive(report, "output_tokens_per_s", "duration_s")
        for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
            for stat in ("mean", "median", "p90", "p99"):
                v = report[key][stat]
                assert math.isfinite(v) and v >= 0, (key, stat, v)
            # Two tokens of a fast model can arrive in one read, so a gap between tokens may be
            # 0; the request-level times cannot be.
            if key != "itl_ms":
                assert report[key]["median"] > 0, key
        assert report["itl_ms"]["p99"] > 0
    finally:
        assert server.stop() == 0, "".join(server.log[-20:])


def test_serve_against_a_closed_port_is_a_clear_error(tmp_path):
    server = Server()
    url = server.url
    server.stop()
    path = tmp_path / "serve.json"
    out = run(BENCH, "serve", "--url", url, "--num-prompts", 2, "--input-len", 4, "--output-len", 2,
              "--json", path, check=False)
    # The set-up call (/tokenize) fails first: a clear error, exit 1.
    assert out.returncode == 1 and "error" in out.stderr


def test_report_turns_results_into_tables_and_a_plot(tmp_path):
    """bench/report.py on reports named as bench/reproduce.sh names them, at tiny sizes."""
    out = tmp_path / "results"
    out.mkdir()
    tag = out / "tiny_f32"
    run(BENCH, "roofline", "--model", MODEL, "--buffer-mib", 16, "--json", f"{tag}_roofline.json")
    common = ("--model", MODEL, "--skip-probe", "--input-len", 8)
    run(BENCH, "latency", *common, "--output-len", 4, "--num-iters", 1, "--json", f"{tag}_decode.json")
    run(BENCH, "latency", *common, "--output-len", 2, "--num-iters", 1, "--json", f"{tag}_prefill.json")
    for c in (1, 2):
        run(BENCH, "throughput", *common, "--output-len", 4, "--num-prompts", c, "--max-num-seqs", c,
            "--json", f"{tag}_throughput_c{c}.json")
    # A probed batch run, so the paired fractions reach the table.
    run(BENCH, "latency", "--model", MODEL, "--input-len", 8, "--batch-size", 3, "--output-len", 4,
        "--num-iters", 1, "--json", f"{tag}_decode_b3.json")
    run(BENCH, "gemm", "--model", MODEL, "--layers", 1, "--rows", 1, 5, "--impl", "engine-f32",
        "--min-seconds", 0.01, "--json", f"{tag}_gemm.json")
    server = Server()
    try:
        run(BENCH, "serve", "--url", server.url, "--num-prompts", 2, "--max-concurrency", 1,
            "--input-len", 8, "--output-len", 4, "--json", out / "tiny_bf16_serve_c1.json")
    finally:
        assert server.stop() == 0, "".join(server.log[-20:])
    plot = tmp_path / "plot.png"
    rep = run(ROOT / ".venv" / "bin" / "python", ROOT / "bench" / "report.py", out, "--plot", plot)
    text = rep.stdout
    for title in ("Limits", "Single stream", "Batched decode", "Matrix products", "Offline throughput",
                  "Serving"):
        assert f"### {title}" in text, text
    assert "| tiny | f32 | 3 |" in text, text  # the batch-decode row
    assert "| tiny | engine-f32 | 5 |" in text, text  # a gemm row
    assert "| tiny | f32 | 2 |" in text, text  # the c=2 throughput row
    assert "| tiny | bf16 | 1 |" in text, text  # the serve row
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_attention_reports_each_kernel_beside_the_peak(tmp_path):
    out = tmp_path / "attention.json"
    run(BENCH, "attention", "--backend", "simt", "--heads", 4, "--kv-heads", 2, "--head-dim", 64,
        "--prefill", "20,33", "--decode", "1,3", "--context", 70, "--iters", 1, "--json", out)
    report = json.loads(out.read_text())
    check_common(report, "attention")
    rows = {(r["kernel"], r["case"]): r for r in report["results"]}
    assert set(rows) == {("prefill", "T=20"), ("prefill", "T=33"), ("decode", "S=1 C=70"),
                         ("decode+graph", "S=1 C=70"), ("decode", "S=3 C=70"),
                         ("decode+graph", "S=3 C=70")}
    # The work is the formula's: causal pairs for prefill, every cached key for decode.
    H, KVH, hd = 4, 2, 64
    assert rows[("prefill", "T=33")]["flops"] == 4 * H * hd * 33 * 34 / 2
    assert rows[("decode", "S=3 C=70")]["flops"] == 4 * H * hd * 70 * 3
    assert rows[("decode", "S=3 C=70")]["bytes"] >= 3 * 70 * KVH * hd * 2 * 2
    for r in report["results"]:
        positive(r, "bytes", "flops", "ms", "peak_bound_ms", "achieved_tbs")
        assert r["fraction_of_peak"] == pytest.approx(r["peak_bound_ms"] / r["ms"])


def test_attention_plan_runs_nothing_and_refuses_bad_shapes():
    plan = run(BENCH, "attention", "--plan").stdout
    assert "prefill T=8192" in plan and "compute bound" in plan and "memory bound" in plan
    bad = run(BENCH, "attention", "--plan", "--heads", 6, "--kv-heads", 4, check=False)
    assert bad.returncode == 2 and "multiple of --kv-heads" in bad.stderr


def test_gpu_check_runs_every_step_in_the_emulator(tmp_path):
    out = tmp_path / "gpu_check.json"
    run(ROOT / "bench" / "gpu_check.sh", "--emulator", "--build", BIN_DIR.parent, "--out", out)
    report = json.loads(out.read_text())
    status = {s["step"]: s["status"] for s in report["steps"]}
    expected = {"conformance", "attention_kernels", "make_model", "prefill_16", "prefill_32",
                "decode_1_eager", "decode_1_graphs", "decode_2_eager", "decode_2_graphs"}
    assert {k for k, v in status.items() if v == "passed"} == expected, status
    # compute-sanitizer needs a device: skipped, saying so.
    assert all(status[f"sanitizer_{t}"] == "skipped" for t in ("racecheck", "synccheck", "memcheck"))
    assert {r["kernel"] for r in report["attention_kernels"]} == {"prefill", "decode", "decode+graph"}
    positive(report["latency"]["decode_2_graphs"], "decode_step_ms", "decode_tokens_per_s")
    positive(report["latency"]["prefill_32"], "prefill_s", "prefill_tokens_per_s")
