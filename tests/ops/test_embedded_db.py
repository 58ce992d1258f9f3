"""The embedded PostgreSQL: processes starting together (`make run`'s server and worker,
`make run-cluster`'s processes) all get it, set up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

GET_URLS = (
    "from pathlib import Path; from lib.embedded_db import embedded_database_urls;"
    " print(embedded_database_urls(Path('.data'))[0])"
)


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="the embedded server's test")
def test_processes_starting_together_all_get_the_set_up_server():
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    for _ in range(3):
        starting = [
            subprocess.Popen(
                [sys.executable, "-c", GET_URLS],
                cwd=BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        outcomes = [process.communicate(timeout=60) for process in starting]
        failed = [
            err for process, (_, err) in zip(starting, outcomes, strict=True) if process.returncode
        ]
        assert not failed, failed[0]
        assert all(out.startswith("postgres://maraum_app@") for out, _ in outcomes)
