"""The balancer's configuration for n processes: deploy/haproxy.cfg with a server line each."""

import os
import shutil
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
