"""/metrics parses as Prometheus text and its counters match the requests sent; environment
variables configure the server; SIGTERM drains in-flight requests and exits 0."""
import json
import re
import socket
import threading
import time

from conftest import Server


def test_metrics_counters_match_the_requests(server):
    before = server.metrics()
    prompt_tokens = completion_tokens = 0
    for i, max_tokens in enumerate([3, 7, 11]):
        status, body = server.json("POST", "/v1/completions", {"prompt": f"Count {i}", "max_tokens": max_tokens,
                                                               "temperature": 0, "ignore_eos": True})
        assert status == 200
        prompt_tokens += body["usage"]["prompt_tokens"]
        completion_tokens += body["usage"]["completion_tokens"]
    after = server.metrics()
    assert after["llm_prompt_tokens_total"] - before["llm_prompt_tokens_total"] == prompt_tokens
    assert after["llm_generation_tokens_total"] - before["llm_generation_tokens_total"] == completion_tokens
    length_key = "llm_request_success_total[('finished_reason', 'length')]"
    assert after[length_key] - before.get(length_key, 0) == 3
    ok_key = "llm_http_requests_total[('status', '200')]"
    assert after[ok_key] - before.get(ok_key, 0) >= 3
    assert after["llm_e2e_request_latency_seconds_count"] - before["llm_e2e_request_latency_seconds_count"] == 3
    assert after["llm_time_to_first_token_seconds_count"] - before["llm_time_to_first_token_seconds_count"] == 3
    # The weights as held: stories260K's f32 tensors (its packed panels pad rows to 16).
    from conftest import MODEL
    file_bytes = (MODEL / "model.safetensors").stat().st_size
    assert 0.9 * file_bytes <= after["llm_model_weight_bytes"] <= 1.5 * file_bytes
    for name in ["llm_num_requests_running", "llm_num_requests_waiting", "llm_kv_cache_usage_perc",
                 "llm_prefix_cache_hit_rate", "llm_request_queue_time_seconds_count",
                 "llm_time_per_output_token_seconds_count"]:
        assert name in after


def test_broken_model_exits_1_with_a_clear_message(tmp_path):
    import subprocess
    from conftest import BIN_DIR
    (tmp_path / "config.json").write_text("{")
    r = subprocess.run([str(BIN_DIR / "llm-serve"), "--model", str(tmp_path), "--port", "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "config.json" in r.stderr and "error" in r.stderr


def test_environment_variables_configure_the_server():
    srv = Server(env={"LLM_SERVED_MODEL_NAME": "from-env", "LLM_MAX_NUM_SEQS": "3"})
    try:
        status, body = srv.json("GET", "/v1/models")
        assert status == 200 and body["data"][0]["id"] == "from-env"
    finally:
        assert srv.stop() == 0


def test_sigterm_lets_in_flight_requests_finish_then_exits_0():
    srv = Server("--shutdown-grace", "30")
    result = {}

    def long_request():
        result["r"] = srv.json("POST", "/v1/completions", {"prompt": "Once", "max_tokens": 300,
                                                           "ignore_eos": True, "temperature": 0})
    t = threading.Thread(target=long_request)
    t.start()
    deadline = time.time() + 10
    while srv.metrics()["llm_num_requests_running"] < 1 and time.time() < deadline:
        time.sleep(0.005)
    assert srv.stop() == 0  # sent while the request runs
    t.join()
    status, body = result["r"]
    assert status == 200 and body["usage"]["completion_tokens"] == 300
    assert any(re.search(r"access: req-\d+ POST /v1/completions 200", line) for line in srv.log)
    # New connections are refused once it has stopped.
    try:
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    assert refused


def test_grace_period_over_aborts_the_rest():
    srv = Server("--shutdown-grace", "0")
    result = {}

    def long_stream():
        body = json.dumps({"prompt": "Once", "max_tokens": 505, "ignore_eos": True, "stream": True}).encode()
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode() +
                  b"\r\n\r\n" + body)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        result["data"] = data
    t = threading.Thread(target=long_stream)
    t.start()
    deadline = time.time() + 10
    while srv.metrics()["llm_num_requests_running"] < 1 and time.time() < deadline:
        time.sleep(0.002)
    start = time.time()
    assert srv.stop() == 0
    t.join()
    assert time.time() - start < 15
    assert b'"finish_reason":"abort"' in result["data"].replace(b" ", b"")


def test_a_cpu_server_maps_no_cuda_library(server):
    # The CUDA backend is a plugin loaded only when a CUDA device is asked for: a CPU server must
    # not carry the CUDA runtime, cuBLAS or NCCL (cuBLASLt alone is ~130 MB resident).
    maps = open(f"/proc/{server.proc.pid}/maps").read()
    for lib in ("libcudart", "libcublas", "libnccl", "libllm-backend-cuda"):
        assert lib not in maps
