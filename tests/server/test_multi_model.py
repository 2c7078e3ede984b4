"""Several models and versions in one llm-serve (--config): routing by "model" and alias,
canary weights, sticky users, MODEL:VERSION, a shadow version compared in /metrics, the admin
API (load, unload, weights, promote, rollback, shadow) with in-flight requests finishing on
their version, readiness with golden checks, and config errors named before anything loads."""
import json
import subprocess
import threading
import time

import pytest

from conftest import BIN_DIR, MODEL, Server
from tiny_checkpoint import make_checkpoint

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Three random-weight versions of one Qwen2-tokenizer model (seeds 0, 1, 2)."""
    root = tmp_path_factory.mktemp("versions")
    return [make_checkpoint("qwen2-tokenizer", root / f"seed{s}", seed=s) for s in range(3)]


def write_config(path, models):
    path.write_text(json.dumps({"models": models}))
    return path


def small(flags=None):
    return {"num-blocks": 64, "max-num-seqs": 4, **(flags or {})}


@pytest.fixture(scope="module")
def server(checkpoints, tmp_path_factory):
    config = write_config(tmp_path_factory.mktemp("config") / "models.json", [
        {"name": "tiny", "aliases": ["gpt-4o-mini"], "sticky": "user", "versions": [
            {"version": "v1", "model": str(checkpoints[0]), "weight": 3, "flags": small()},
            {"version": "v2", "model": str(checkpoints[1]), "weight": 1, "flags": small()},
            {"version": "v3", "model": str(checkpoints[0]), "shadow": True, "flags": small()}]},
        {"name": "stories", "monitor_logprobs": True,
         "versions": [{"version": "a", "model": str(MODEL), "flags": small()}]},
    ])
    s = Server("--config", str(config), "--admin-key", "admin-secret", model=None)
    yield s
    assert s.stop() == 0, "".join(s.log[-30:])


def complete(server, model, user=None, max_tokens=1, **extra):
    body = {"model": model, "prompt": "Once upon a time", "max_tokens": max_tokens, "temperature": 0, **extra}
    if user is not None:
        body["user"] = user
    status, headers, text = server.request("POST", "/v1/completions", body)
    assert status == 200, text
    return headers["X-Model-Version"], json.loads(text)


def admin(server, action, body=None, headers=ADMIN):
    if action == "models":
        return server.json("GET", "/admin/models", headers=headers)
    return server.json("POST", "/admin/models/" + action, body, headers=headers)


def versions(server):
    _, state = admin(server, "models")
    return {(m["name"], v["version"]): v for m in state["models"] for v in m["versions"]}


def wait_for(predicate, what, timeout=60):
    end = time.time() + timeout
    while not predicate():
        assert time.time() < end, "timed out waiting for " + what
        time.sleep(0.05)


def test_models_lists_every_name_and_alias(server):
    _, body = server.json("GET", "/v1/models")
    assert [m["id"] for m in body["data"]] == ["stories", "tiny", "gpt-4o-mini"]
    assert all(m["max_model_len"] > 0 for m in body["data"])
    status, health = server.json("GET", "/health")
    assert status == 200 and all(m["ready"] for m in health["models"])


def test_weights_split_the_traffic_and_users_stay_on_their_version(server):
    seen = {}
    for i in range(120):
        version, body = complete(server, "tiny", user=f"user-{i}")
        seen[version] = seen.get(version, 0) + 1
        assert body["model"] == "tiny"
    # Weights 3 : 1 and the shadow (v3) answers nobody.
    assert set(seen) == {"tiny:v1", "tiny:v2"}, seen
    assert 0.6 < seen["tiny:v1"] / 120 < 0.9, seen
    for user in ("alice", "bob", "carol"):
        assert len({complete(server, "gpt-4o-mini", user=user)[0] for _ in range(4)}) == 1


def test_one_version_by_name_and_unknown_models(server):
    assert complete(server, "tiny:v2")[0] == "tiny:v2"
    assert complete(server, "stories")[0] == "stories:a"
    for model in ("tiny:v9", "nope"):
        status, body = server.json("POST", "/v1/completions", {"model": model, "prompt": "x", "max_tokens": 1})
        assert status == 404 and body["error"]["code"] == "model_not_found", body
    # Several models: "model" is required.
    status, body = server.json("POST", "/v1/completions", {"prompt": "x", "max_tokens": 1})
    assert status == 400 and body["error"]["param"] == "model"


def shadow_counts(server, version):
    m = server.metrics()
    labels = [("model", "tiny"), ("shadow_version", "v3"), ("version", version)]
    get = lambda name, extra=(): m.get(name + str(sorted(labels + list(extra))), 0)  # noqa: E731
    return {"compared": get("llm_shadow_requests_total", [("result", "compared")]),
            "not_compared": get("llm_shadow_requests_total", [("result", "not_compared")]),
            "exact": get("llm_shadow_exact_match_total"),
            "diverged": get("llm_shadow_first_divergence_tokens_count")}


def settle_shadow(server):
    """Waits until the shadow copies already sent are all counted (they finish after their
    primaries, asynchronously)."""
    idle = "llm_model_num_requests_{}[('model', 'tiny'), ('version', 'v3')]"
    wait_for(lambda: server.metrics().get(idle.format("running"), 0) == 0 and
             server.metrics().get(idle.format("waiting"), 0) == 0, "the shadow to go idle")
    seen = None
    while True:
        now = [shadow_counts(server, v) for v in ("v1", "v2")]
        if now == seen:
            return
        seen = now
        time.sleep(0.2)


def test_the_shadow_is_compared_with_each_version(server):
    """v3 has v1's weights: greedy answers agree with v1's exactly and differ from v2's."""
    users = {}
    for i in range(200):
        v, _ = complete(server, "tiny", user=f"u{i}")
        users.setdefault(v, f"u{i}")
    settle_shadow(server)
    before = {v: shadow_counts(server, v) for v in ("v1", "v2")}
    for _ in range(3):
        complete(server, "tiny", user=users["tiny:v1"], max_tokens=8)
        complete(server, "tiny", user=users["tiny:v2"], max_tokens=8)
    complete(server, "tiny", user=users["tiny:v1"], max_tokens=8, temperature=1.0)  # no seed: not compared
    wait_for(lambda: shadow_counts(server, "v1")["compared"] - before["v1"]["compared"] >= 3 and
             shadow_counts(server, "v2")["compared"] - before["v2"]["compared"] >= 3 and
             shadow_counts(server, "v1")["not_compared"] - before["v1"]["not_compared"] >= 1, "shadow results")
    after = {v: shadow_counts(server, v) for v in ("v1", "v2")}
    assert after["v1"]["exact"] - before["v1"]["exact"] == 3
    assert after["v2"]["diverged"] - before["v2"]["diverged"] == 3
    m = server.metrics()
    # The shadow's own figures are labelled with its version, outside the server totals.
    assert m["llm_model_output_tokens_count[('model', 'tiny'), ('version', 'v3')]"] >= 6
    assert m["llm_model_requests_total[('finished_reason', 'length'), ('model', 'tiny'), ('version', 'v1')]"] >= 3


def test_mean_token_logprob_is_watched_where_asked(server):
    key = "llm_model_mean_token_logprob_{}[('model', 'stories'), ('version', 'a')]"
    before = server.metrics()
    _, body = complete(server, "stories", max_tokens=12, logprobs=0, temperature=0.7, seed=4)
    token_logprobs = body["choices"][0]["logprobs"]["token_logprobs"]
    after = server.metrics()
    assert after[key.format("count")] - before.get(key.format("count"), 0) == 1
    mean = after[key.format("sum")] - before.get(key.format("sum"), 0)
    assert mean == pytest.approx(sum(token_logprobs) / len(token_logprobs), abs=1e-3)
    # Not watched on a model that did not ask (its greedy requests keep the argmax shortcut).
    complete(server, "tiny")
    assert not any(k.startswith("llm_model_mean_token_logprob") and "'tiny'" in k for k in server.metrics())


def test_shadow_copies_are_dropped_not_queued_when_full(checkpoints, tmp_path):
    config = write_config(tmp_path / "models.json", [
        {"name": "tiny", "versions": [
            {"version": "v1", "model": str(checkpoints[0]), "flags": small()},
            {"version": "v3", "model": str(checkpoints[0]), "shadow": True, "flags": small()}]}])
    s = Server("--config", str(config), "--max-shadow-in-flight", "0", model=None)
    for _ in range(3):
        assert complete(s, "tiny", max_tokens=4)[0] == "tiny:v1"
    m = s.metrics()
    assert m["llm_shadow_requests_total[('model', 'tiny'), ('result', 'dropped'), ('shadow_version', 'v3'), ('version', 'v1')]"] == 3
    assert not any("'compared'" in k for k in m if k.startswith("llm_shadow_requests_total"))
    assert s.stop() == 0


def test_admin_needs_its_key(server):
    assert admin(server, "models", headers={})[0] == 401
    assert admin(server, "models", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert server.json("GET", "/admin/nothing", headers=ADMIN)[0] == 404


def test_admin_load_weights_promote_rollback_unload(server, checkpoints):
    status, body = admin(server, "load", {"model": "tiny", "version": {
        "version": "v4", "model": str(checkpoints[2]), "flags": small()}})
    assert status == 202, body
    assert admin(server, "load", {"model": "tiny", "version": {"version": "v4", "model": str(checkpoints[2])}})[0] == 409
    wait_for(lambda: versions(server)[("tiny", "v4")]["state"] == "ready", "v4 to load")
    assert versions(server)[("tiny", "v4")]["weight"] == 0  # loaded, not yet serving
    assert {complete(server, "tiny", user=f"w{i}")[0] for i in range(20)} <= {"tiny:v1", "tiny:v2"}

    status, body = admin(server, "weights", {"model": "tiny", "weights": {"v4": 1, "v1": 0, "v2": 0}})
    assert status == 200, body
    assert {complete(server, "tiny", user=f"w{i}")[0] for i in range(20)} == {"tiny:v4"}
    assert admin(server, "rollback", {"model": "tiny"})[0] == 200
    assert {complete(server, "tiny", user=f"w{i}")[0] for i in range(20)} == {"tiny:v1", "tiny:v2"}
    assert admin(server, "promote", {"model": "tiny", "version": "v2"})[0] == 200
    assert {complete(server, "tiny", user=f"w{i}")[0] for i in range(20)} == {"tiny:v2"}

    # Bad changes are refused whole and change nothing.
    assert admin(server, "weights", {"model": "tiny", "weights": {"v2": 0}})[0] == 400
    assert admin(server, "weights", {"model": "tiny", "weights": {"v2": 1, "v9": 1}})[0] == 400
    assert admin(server, "weights", {"model": "tiny", "weights": {"v3": 1}})[0] == 400  # the shadow
    assert admin(server, "unload", {"model": "tiny", "version": "v2"})[0] == 409  # the last with traffic
    assert {complete(server, "tiny", user=f"w{i}")[0] for i in range(10)} == {"tiny:v2"}

    assert admin(server, "unload", {"model": "tiny", "version": "v4"})[0] == 200
    assert ("tiny", "v4") not in versions(server)
    assert admin(server, "rollback", {"model": "tiny"})[0] == 200  # back to v1 3 : v2 1
    assert {complete(server, "tiny", user=f"w{i}")[0] for i in range(20)} == {"tiny:v1", "tiny:v2"}


def test_a_failed_load_says_why_and_leaves_the_running_versions(server):
    status, body = admin(server, "load", {"model": "tiny", "version": {"version": "bad", "model": "/nonexistent/model"}})
    assert status == 202, body
    wait_for(lambda: versions(server)[("tiny", "bad")]["state"] == "failed", "the load to fail")
    assert "/nonexistent/model" in versions(server)[("tiny", "bad")]["error"]
    assert complete(server, "tiny")[0] in ("tiny:v1", "tiny:v2")
    # Refused before loading: an unknown flag, an unknown model.
    status, body = admin(server, "load", {"model": "tiny", "version": {"version": "x", "model": str(MODEL), "flags": {"no-such-flag": 1}}})
    assert status == 400 and "no-such-flag" in body["error"]["message"]
    assert admin(server, "load", {"model": "nope", "version": {"version": "x", "model": str(MODEL)}})[0] == 404


def test_in_flight_requests_finish_on_their_version(server, checkpoints):
    assert admin(server, "load", {"model": "tiny", "version": {"version": "v5", "model": str(checkpoints[2]), "flags": small()}})[0] == 202
    wait_for(lambda: versions(server)[("tiny", "v5")]["state"] == "ready", "v5 to load")
    result = {}

    def long_request():
        result["version"], result["body"] = complete(server, "tiny:v5", max_tokens=300, ignore_eos=True)

    t = threading.Thread(target=long_request)
    t.start()
    wait_for(lambda: server.metrics().get("llm_model_num_requests_running[('model', 'tiny'), ('version', 'v5')]", 0) >= 1,
             "the request to start")
    assert admin(server, "unload", {"model": "tiny", "version": "v5"})[0] == 200
    t.join(60)
    assert result["version"] == "tiny:v5"
    assert result["body"]["usage"]["completion_tokens"] == 300
    assert server.json("POST", "/v1/completions", {"model": "tiny:v5", "prompt": "x", "max_tokens": 1})[0] == 404


def test_the_shadow_can_be_changed_and_removed(server):
    assert admin(server, "shadow", {"model": "tiny", "version": None})[0] == 200
    assert not any(v.get("shadow") for v in versions(server).values())
    assert admin(server, "shadow", {"model": "tiny", "version": "v1"})[0] == 400  # it serves traffic
    assert admin(server, "shadow", {"model": "tiny", "version": "v3"})[0] == 200
    assert versions(server)[("tiny", "v3")]["shadow"] is True


def run_serve(*args, timeout=120):
    return subprocess.run([str(BIN_DIR / "llm-serve"), "--port", "0", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_golden_checks_gate_readiness(tmp_path):
    ok = Server("--max-num-seqs", "2", "--num-blocks", "64")
    expected = complete(ok, "stories260K", max_tokens=6)[1]["choices"][0]["text"]
    assert ok.stop() == 0
    golden = [{"prompt": "Once upon a time", "max_tokens": 6, "expected": expected}]
    good = write_config(tmp_path / "good.json", [
        {"name": "s", "golden": golden, "versions": [{"version": "a", "model": str(MODEL), "flags": small()}]}])
    s = Server("--config", str(good), model=None)
    assert complete(s, "s")[0] == "s:a"
    assert s.stop() == 0
    bad = write_config(tmp_path / "bad.json", [
        {"name": "s", "golden": [{**golden[0], "expected": expected + " not"}],
         "versions": [{"version": "a", "model": str(MODEL), "flags": small()}]}])
    r = run_serve("--config", str(bad))
    assert r.returncode == 1 and "golden case 0" in r.stderr and "expected" in r.stderr, r.stderr


@pytest.mark.parametrize("models, message", [
    ([{"name": "a", "versions": [{"version": "v", "model": "m", "wieght": 1}]}], "unknown key 'wieght'"),
    ([{"name": "a", "versions": []}], "'versions' must be a non-empty list"),
    ([{"name": "a", "versions": [{"version": "v", "model": "m"}, {"version": "v", "model": "m"}]}], "declared twice"),
    ([{"name": "a", "versions": [{"version": "v", "model": "m", "weight": 0}]}], "add up to 0"),
    ([{"name": "a", "versions": [{"version": "v", "model": "m", "shadow": True}]}], "not the shadow"),
    ([{"name": "a", "aliases": ["b"], "versions": [{"version": "v", "model": "m"}]},
      {"name": "b", "versions": [{"version": "v", "model": "m"}]}], "used twice"),
    ([{"name": "a", "versions": [{"version": "v", "model": "m", "flags": {"max-num-seqs": "many"}}]}], "max-num-seqs"),
    ([{"name": "a", "sticky": "cookie", "versions": [{"version": "v", "model": "m"}]}], "'sticky'"),
])
def test_config_errors_are_named_before_anything_loads(tmp_path, models, message):
    r = run_serve("--config", str(write_config(tmp_path / "c.json", models)))
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert "listening" not in r.stderr
