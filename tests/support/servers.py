"""Servers in processes of their own: Daphne serving the app (as `make run` does, through
maraum.serve) and the fake Anthropic API, each on a free loopback port."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout} s")


@contextlib.contextmanager
def daphne(
    database_url: str,
    extra_env: dict,
    *,
    app: str = "maraum.asgi:application",
    settings_module: str = "maraum.settings",
    log_path: Path | None = None,
    port: int | None = None,
):
    """A Daphne process serving `app` on a loopback port (a free one unless given); yields
    (process, port)."""
    with _daphne_started(database_url, extra_env, app, settings_module, log_path, port) as running:
        wait_for_port(running[1], running[0])
        yield running


@contextlib.contextmanager
def daphnes(database_url: str, extra_env: dict, log_paths: list[Path]):
    """As many Daphne processes as `log_paths`, started together (each takes seconds to start);
    yields [(process, port), ...]."""
    with contextlib.ExitStack() as stack:
        running = [
            stack.enter_context(
                _daphne_started(
                    database_url, extra_env, "maraum.asgi:application", "maraum.settings", path
                )
            )
            for path in log_paths
        ]
        for process, port in running:
            wait_for_port(port, process)
        yield running


@contextlib.contextmanager
def _daphne_started(database_url, extra_env, app, settings_module, log_path, port=None):
    port = port or free_port()
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE=settings_module,
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        HTTPS="false",  # plain http on loopback
        **extra_env,
    )
    with open(log_path or os.devnull, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "maraum.serve", "-b", "127.0.0.1", "-p", str(port), app],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            yield process, port
        finally:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, and SIGKILL if it has not ended 10 s later."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@contextlib.contextmanager
def fake_anthropic_process(ttft: float, tokens_per_second: float, tokens: int):
    """The fake Anthropic API in a process of its own (a benchmark's upstream); yields
    (URL, process)."""
    port = free_port()
    options = {"--port": port, "--ttft": ttft, "--tokens-per-second": tokens_per_second}
    args = [str(part) for pair in {**options, "--tokens": tokens}.items() for part in pair]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_anthropic", *args],
        cwd=BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(10)
