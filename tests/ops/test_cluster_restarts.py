"""The local cluster (`make run-cluster`) starts a process that exits again on its port, so a
rolling restart is a SIGTERM to one process at a time; one that dies at once stops it."""

import signal
import subprocess
import sys

import pytest

from maraum import cluster
from maraum.cluster import Servers

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def servers(monkeypatch):
    started: list[int] = []

    def start(number: int) -> subprocess.Popen:
        started.append(number)
        return subprocess.Popen(SLEEPER)

    running = Servers(start)
    for number in (1, 2):
        running.append(start(number))
    yield running, started
    for process in running:
        process.kill()
        process.wait()


def test_a_process_that_exits_is_started_again_and_the_others_run_on(servers, monkeypatch):
    running, started = servers
    monkeypatch.setattr(cluster.time, "monotonic", lambda: 1e9)  # long after their start
    first, second = list(running)
    second.send_signal(signal.SIGTERM)
    second.wait()
    assert running.restart_exited() == [2]
    assert running[0] is first and running[1] is not second
    assert running[1].poll() is None and started == [1, 2, 2]
    assert running.restart_exited() == []


def test_a_process_that_dies_at_once_is_not_restarted_in_a_loop(servers):
    running, _ = servers
    running[0].kill()
    running[0].wait()
    with pytest.raises(RuntimeError, match="process 1 exited"):
        running.restart_exited()
