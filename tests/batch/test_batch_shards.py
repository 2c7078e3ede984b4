"""llm-batch --shard I/N and --merge: N workers each take every N-th line, and the merge puts
their outputs back in input order, refusing unless every custom_id is answered exactly once;
--config runs one version of a model as llm-serve would."""
import json
import subprocess

import pytest

from test_llm_batch import BATCH, MODEL, comparable, completion, read_output, run_batch, write_lines


def merge(inp, out, *shards):
    return subprocess.run([BATCH, "--input", str(inp), "--output", str(out), "--merge", *map(str, shards)],
                          capture_output=True, text=True, timeout=60)


def test_shards_merge_into_the_unsharded_result(tmp_path):
    inp = tmp_path / "in.jsonl"
    write_lines(inp, [completion(i) for i in range(11)] + [""])  # a blank line is no line
    whole = tmp_path / "whole.jsonl"
    assert run_batch(inp, whole).returncode == 0
    shards = []
    for i in range(3):
        out = tmp_path / f"shard{i}.jsonl"
        r = run_batch(inp, out, "--shard", f"{i}/3")
        assert r.returncode == 0, r.stderr
        ids = [o["custom_id"] for o in read_output(out)]
        assert ids == [f"req-{k}" for k in range(i, 11, 3)]
        shards.append(out)
    merged = tmp_path / "merged.jsonl"
    r = merge(inp, merged, *reversed(shards))
    assert r.returncode == 0, r.stderr
    assert [comparable(o) for o in read_output(merged)] == [comparable(o) for o in read_output(whole)]

    # A missing shard, a shard given twice, an answer from another job: refused, nothing written.
    bad = tmp_path / "bad.jsonl"
    r = merge(inp, bad, shards[0], shards[1])
    assert r.returncode == 1 and "'req-2'" in r.stderr and "no shard output" in r.stderr, r.stderr
    r = merge(inp, bad, shards[0], shards[1], shards[2], shards[0])
    assert r.returncode == 1 and "answered in both" in r.stderr, r.stderr
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"custom_id": "elsewhere", "response": None, "error": None}) + "\n")
    r = merge(inp, bad, *shards, other)
    assert r.returncode == 1 and "'elsewhere'" in r.stderr, r.stderr
    assert not bad.exists()


@pytest.mark.parametrize("shard", ["3/3", "1", "a/2", "-1/2", "0/0"])
def test_bad_shards_are_flag_errors(tmp_path, shard):
    inp = tmp_path / "in.jsonl"
    write_lines(inp, [completion(0)])
    r = run_batch(inp, tmp_path / "out.jsonl", "--shard", shard)
    assert r.returncode == 2 and "--shard" in r.stderr, r.stderr


def test_config_runs_the_named_version(tmp_path):
    config = tmp_path / "models.json"
    config.write_text(json.dumps({"models": [{"name": "stories260K", "versions": [
        {"version": "a", "model": str(MODEL), "weight": 1, "flags": {"num-blocks": 64}},
        {"version": "b", "model": str(MODEL), "weight": 3, "flags": {"num-blocks": 64, "max-num-seqs": 2}}]}]}))
    inp = tmp_path / "in.jsonl"
    write_lines(inp, [completion(i) for i in range(4)])
    whole = tmp_path / "whole.jsonl"
    assert run_batch(inp, whole).returncode == 0
    for model, version in (("stories260K", "b"), ("stories260K:a", "a")):
        out = tmp_path / f"{version}.jsonl"
        r = subprocess.run([BATCH, "--config", str(config), "--model", model, "--input", str(inp), "--output", str(out)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert f"version '{version}'" in r.stderr
        assert [comparable(o) for o in read_output(out)] == [comparable(o) for o in read_output(whole)]
    r = subprocess.run([BATCH, "--config", str(config), "--model", "stories260K:z", "--input", str(inp),
                        "--output", str(tmp_path / "z.jsonl")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "no such version" in r.stderr
