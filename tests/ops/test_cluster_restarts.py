"""The local cluster (`make run-cluster`) starts a process that exits again on its port, so a
rolling restart is a SIGTERM to one process at a time; one that fails at once stops it. So
with HAProxy; and a cluster just stopped can be started again at once."""

import signal
import socket
import subprocess
import sys

import pytest

from maraum import cluster
from maraum.cluster import Balancer, Servers

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
FAILING = [sys.executable, "-c", "raise SystemExit(1)"]


@pytest.fixture
def servers():
    started: list[int] = []
    commands = {}

    def start(number: int) -> subprocess.Popen:
        started.append(number)
        return subprocess.Popen(commands.get(number, SLEEPER))

    running = Servers(start)
    for number in (1, 2):
        running.append(start(number))
    yield running, started, commands
    for process in running:
        process.kill()
        process.wait()


def test_a_process_that_exits_is_started_again_and_the_others_run_on(servers, monkeypatch):
    running, started, _ = servers
    monkeypatch.setattr(cluster.time, "monotonic", lambda: 1e9)  # long after their start
    first, second = list(running)
    second.send_signal(signal.SIGTERM)
    second.wait()
    assert running.restart_exited() == [2]
    assert running[0] is first and running[1] is not second
    assert running[1].poll() is None and started == [1, 2, 2]
    assert running.restart_exited() == []


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_process_stopped_again_soon_after_its_restart_is_started_again(servers, how):
    """A second restart within five seconds (a deploy, the OOM killer) had stopped the whole
    cluster: taken for a process that cannot start (the attacker's replay)."""
    running, started, _ = servers
    for _ in range(2):
        running[0].send_signal(how)
        running[0].wait()
        assert running.restart_exited() == [1]
    assert running[0].poll() is None and started == [1, 2, 1, 1]


def test_a_process_that_fails_at_once_is_not_restarted_in_a_loop(servers):
    running, _, commands = servers
    commands[1] = FAILING
    running[0].kill()
    running[0].wait()
    assert running.restart_exited() == [1]
    running[0].wait()  # the start that fails
    with pytest.raises(RuntimeError, match="process 1 exited with 1 at once"):
        running.restart_exited()


def test_haproxy_that_exits_is_started_again():
    """The cluster had run on with nothing on its port (the attacker's replay)."""
    started = []

    def start() -> subprocess.Popen:
        started.append(subprocess.Popen(SLEEPER))
        return started[-1]

    balancer = Balancer(start)
    try:
        assert not balancer.restart_if_exited()
        balancer.process.kill()
        balancer.process.wait()
        assert balancer.restart_if_exited()
        assert balancer.process is started[1] and balancer.poll() is None
    finally:
        for process in started:
            process.kill()
            process.wait()


def test_a_port_whose_connections_closed_a_moment_ago_is_free():
    """Only closed connections waiting out TIME-WAIT: a cluster stopped a moment ago could not
    be started again (the attacker's replay)."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Twisted and HAProxy
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not cluster.port_is_free("127.0.0.1", port)
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server's side closes first: its port waits in TIME-WAIT
        client.recv(1)
        client.close()
    assert cluster.port_is_free("127.0.0.1", port)
