"""bench/cleanup_backlog.py runs end to end on a tiny backlog (in its own scratch database)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_on_a_tiny_backlog(tmp_path):
    results = tmp_path / "cleanup_backlog.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "cleanup_backlog.py"),
            "--sessions",
            "20",
            "--messages-per-session",
            "3",
            "--results",
            str(results),
        ],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    figures = json.loads(results.read_text())
    assert figures["deleted_sessions"] == 20 and figures["deleted_messages"] == 60
    assert "longest batch" in completed.stdout
