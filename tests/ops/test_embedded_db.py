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


USE_IT = (
    "import sys; from pathlib import Path; from lib.embedded_db import embedded_database_urls;"
    " print(embedded_database_urls(Path(sys.argv[1]))[0], flush=True); sys.stdin.read()"
)


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="the embedded server's test")
def test_a_run_ending_leaves_the_server_to_a_process_still_using_it(tmp_path):
    """`make run` started again as the last one ended had its migration cut off by that one's
    stop ("the database system is shutting down": the attacker's replay)."""
    from lib.embedded_db import stop

    data = tmp_path / ".data"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    user = subprocess.Popen(
        [sys.executable, "-c", USE_IT, str(data)],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    running = data / "postgres" / "postmaster.pid"
    try:
        assert user.stdout.readline().startswith("postgres://maraum_app@")
        assert not stop(data, unless_in_use=True)
        assert running.exists()
    finally:
        user.kill()
        user.wait(timeout=30)
        user.stdout.close()
        user.stdin.close()
    try:
        assert stop(data, unless_in_use=True)  # killed, it uses it no more
        assert not running.exists()
    finally:
        stop(data)
