"""Browser tests: headless Debian Chromium driven by Playwright, against a real Daphne server
(HTTP and websockets) that uses the test database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from bench.harness import free_port, wait_for_port

BASE_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)


def test_database_url() -> str:
    params = connection.get_connection_params()
    host, port = str(params.get("host") or "127.0.0.1"), params.get("port") or 5432
    password = f":{params['password']}" if params.get("password") else ""
    name, user = params["dbname"], params["user"]
    if host.startswith("/"):
        return f"postgres://{user}{password}@/{name}?host={host}&port={port}"
    return f"postgres://{user}{password}@{host}:{port}/{name}"


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture
def daphne_server(request):
    """Start Daphne on the test database; `extra_env` via indirect parametrisation or the
    `daphne_env` fixture."""
    env_overrides = request.getfixturevalue("daphne_env")
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=test_database_url(),
        LOG_LEVEL="WARNING",
        OFFLINE_TOKEN_DELAY="0.005",
        **env_overrides,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "maraum.asgi:application",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def daphne_env():
    return {}


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test's thread; the test's own database
    # checks are plain synchronous code all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def watch_for_problems(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems
