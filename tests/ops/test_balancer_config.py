"""The balancer's configuration for n processes: deploy/haproxy.cfg with a server line each."""

import os
import shutil
import socket
import subprocess

import pytest

from maraum.cluster import balancer_config


def test_each_process_gets_its_own_server_line():
    config = balancer_config(3)
    servers = [line.strip() for line in config.splitlines() if line.strip().startswith("server")]
    assert servers == [
        'server app1 "${MARAUM_APP1}"',
        'server app2 "${MARAUM_APP2}"',
        'server app3 "${MARAUM_APP3}"',
    ]
    assert "frontend maraum" in config and "balance leastconn" in config


@pytest.mark.skipif(not shutil.which("haproxy"), reason="HAProxy is not installed")
def test_haproxy_accepts_the_configuration_for_four_processes(tmp_path):
    path = tmp_path / "haproxy.cfg"
    path.write_text(balancer_config(4))
    env = dict(os.environ, MARAUM_LISTEN="127.0.0.1:8000")
    env.update({f"MARAUM_APP{n}": f"127.0.0.1:{9000 + n}" for n in range(1, 5)})
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(path)], env=env, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.skipif(not shutil.which("haproxy"), reason="HAProxy is not installed")
def test_the_foreground_balancer_prints_each_warning_once(tmp_path):
    """`make run-cluster` runs HAProxy in the foreground, which prints its warnings itself; the
    file's log to stderr printed each again (found by the newcomer's walk)."""
    with socket.socket() as nobody:
        nobody.bind(("127.0.0.1", 0))  # bound, never listening: the check is refused
        lines = []
        for line in foreground_balancer(tmp_path, nobody):
            lines.append(line)
            if "no server available" in line:  # the server went down, and the backend has none
                break
    assert sum("is DOWN" in line for line in lines) == 1, lines
    assert not [line for line in lines if "WARNING" in line and "DOWN" not in line], lines


@pytest.mark.skipif(not shutil.which("haproxy"), reason="HAProxy is not installed")
def test_a_process_that_stops_answering_is_taken_out(tmp_path):
    """A frozen process (SIGSTOP, a stuck event loop) still has its connections accepted by
    the kernel: a check that only connected kept sending it new pages (the attacker's replay).
    Here a socket that listens and never answers."""
    with socket.socket() as frozen:
        frozen.bind(("127.0.0.1", 0))
        frozen.listen()  # the kernel completes each handshake; nothing reads
        for line in foreground_balancer(tmp_path, frozen):  # or the test's timeout ends it
            if "is DOWN" in line:
                break
    assert "timeout" in line.lower(), line


def foreground_balancer(tmp_path, app: socket.socket):
    """The lines HAProxy prints in the foreground, in front of one process at `app`'s address;
    it is stopped when they are no longer read."""
    path = tmp_path / "haproxy.cfg"
    path.write_text(balancer_config(1))
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        env = dict(
            os.environ,
            MARAUM_LISTEN=f"127.0.0.1:{listening.getsockname()[1]}",
            MARAUM_APP1=f"127.0.0.1:{app.getsockname()[1]}",
        )
    balancer = subprocess.Popen(
        ["haproxy", "-db", "-f", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield from balancer.stdout
    finally:
        balancer.kill()
        balancer.wait()


async def test_the_balancers_check_is_answered_without_django():
    """By the event loop itself: no database, and any Host (the check's is no site's)."""
    from channels.testing import HttpCommunicator

    from maraum.alive import ALIVE_PATH
    from maraum.asgi import application

    check = HttpCommunicator(application, "GET", ALIVE_PATH, headers=[(b"host", b"maraum-check")])
    response = await check.get_response()
    assert response["status"] == 200 and response["body"] == b"alive\n"
