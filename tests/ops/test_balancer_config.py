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
    path = tmp_path / "haproxy.cfg"
    path.write_text(balancer_config(1))
    with socket.socket() as listening, socket.socket() as nobody:
        listening.bind(("127.0.0.1", 0))
        nobody.bind(("127.0.0.1", 0))  # bound, never listening: the check is refused
        env = dict(
            os.environ,
            MARAUM_LISTEN=f"127.0.0.1:{listening.getsockname()[1]}",
            MARAUM_APP1=f"127.0.0.1:{nobody.getsockname()[1]}",
        )
        listening.close()
        balancer = subprocess.Popen(
            ["haproxy", "-db", "-f", str(path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            lines = []
            for line in balancer.stdout:  # the server goes down, then the backend has none
                lines.append(line)
                if "no server available" in line:
                    break
        finally:
            balancer.kill()
            balancer.wait()
    assert sum("is DOWN" in line for line in lines) == 1, lines
    assert not [line for line in lines if "WARNING" in line and "DOWN" not in line], lines
