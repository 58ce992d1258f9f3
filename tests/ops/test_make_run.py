"""`make run` stops when it is told to, with its server and task worker: a SIGTERM to `make`
(a process manager, `timeout`, `kill`) reached the recipe's shell, which runs its traps only
between commands, and the server in the foreground went on serving (the newcomer's walk)."""

import contextlib
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import database_url
from tests.support.servers import BASE_DIR, free_port, wait_for_port

pytestmark = pytest.mark.django_db


def _processes_marked(mark: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if f"MARAUM_MAKE_RUN_TEST={mark}".encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
    return found


def test_make_run_stops_its_server_and_worker_on_sigterm():
    port, mark = free_port(), uuid.uuid4().hex
    env = dict(
        os.environ,
        DATABASE_URL=database_url(),  # the test database, migrated already
        DATABASE_OWNER_URL=database_url(owner=True),
        MARAUM_MAKE_RUN_TEST=mark,  # how its processes are found below
    )
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # as a service is started: no terminal, no Ctrl+C
    )
    try:
        wait_for_port(port, make, timeout=120)
        assert len(_processes_marked(mark)) >= 4  # make, its shell, the server, the worker
        make.send_signal(signal.SIGTERM)  # to make alone
        make.wait(timeout=60)  # it waited for ever
        assert _processes_marked(mark) == []  # the server and the worker went with it
    finally:
        for pid in _processes_marked(mark):  # what a failure left, for the next test's sake
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
