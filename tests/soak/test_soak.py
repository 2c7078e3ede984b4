"""The soak, briefly, so the normal test command covers it; run soak.py itself for longer ones."""
import os

from soak import print_summary, run_soak


def test_soak_briefly():
    duration = float(os.environ.get("LLM_SOAK_SECONDS", "25"))
    report, failed, checks = run_soak(duration, clients=16)
    print_summary(report, checks)
    assert not failed, failed
