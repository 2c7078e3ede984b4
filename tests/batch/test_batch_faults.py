"""llm-batch when its output cannot be written: a clear error and a non-zero exit, and --resume
(with room again) finishes the job exactly as an uninterrupted run would have."""
import resource
import signal
import subprocess

from test_llm_batch import BATCH, MODEL, comparable, completion, read_output, run_batch, write_lines


def file_size_limit(limit):
    """preexec_fn: writes past `limit` bytes fail with EFBIG instead of killing the process."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # SIG_IGN survives exec
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def lines(n=120):
    return [completion(i, max_tokens=30, ignore_eos=True, seed=i, temperature=0.7, n=1 + i % 2) for i in range(n)]


def test_disk_full_stops_with_a_clear_error_then_resume_completes_it(tmp_path):
    write_lines(tmp_path / "in.jsonl", lines())
    r = run_batch(tmp_path / "in.jsonl", tmp_path / "full.jsonl", "--max-in-flight", "16")
    assert r.returncode == 0, r.stderr
    full = [comparable(o) for o in read_output(tmp_path / "full.jsonl")]
    size = (tmp_path / "full.jsonl").stat().st_size

    out = tmp_path / "out.jsonl"
    limit = size // 3 + 77  # mid-line, most likely: the cut must be found and repaired
    r = subprocess.run([BATCH, "--model", str(MODEL), "--input", str(tmp_path / "in.jsonl"), "--output", str(out),
                        "--max-in-flight", "16"], capture_output=True, text=True, timeout=300,
                       preexec_fn=file_size_limit(limit))
    assert r.returncode != 0
    assert "write failed: File too large" in r.stderr, r.stderr
    assert "--resume" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert out.stat().st_size <= limit
    written = out.read_text().count("\n")
    assert 0 < written < len(full)

    r = run_batch(tmp_path / "in.jsonl", out, "--resume", "--max-in-flight", "16")
    assert r.returncode == 0, r.stderr
    assert f"{written} skipped" in r.stderr, r.stderr
    resumed = [comparable(o) for o in read_output(out)]
    assert [c[0] for c in resumed] == [f"req-{i}" for i in range(len(full))]  # each once, in order
    assert resumed == full


def test_no_space_left_on_device_is_reported(tmp_path):
    # /dev/full fails every write with ENOSPC: the disk-full errno itself, not a file-size cap.
    write_lines(tmp_path / "in.jsonl", lines(20))
    r = run_batch(tmp_path / "in.jsonl", "/dev/full")
    assert r.returncode == 1
    assert "/dev/full: write failed: No space left on device" in r.stderr, r.stderr
    assert "--resume" in r.stderr
