"""Browser tests: headless Debian Chromium driven by Playwright, against a real Daphne server
(HTTP and websockets) that uses the test database."""

from pathlib import Path

import pytest

from tests.conftest import database_url
from tests.support.servers import daphne

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


@pytest.fixture
def daphne_process(daphne_env, tmp_path):
    """Daphne serving the app on the test database (tests using it must commit their data:
    `django_db(transaction=True)`), as (process, base URL); its output goes to daphne.log in
    the test's tmp_path."""
    env = {"OFFLINE_TOKEN_DELAY": "0.005", **daphne_env}
    with daphne(
        database_url(),
        env,
        log_path=tmp_path / "daphne.log",
    ) as (process, port):
        yield process, f"http://127.0.0.1:{port}"


@pytest.fixture
def daphne_server(daphne_process):
    return daphne_process[1]


@pytest.fixture
def daphne_env():
    return {}


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # a busy 2-core machine is slow, not broken

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


@pytest.fixture(autouse=True)
def fast_password_hashing():
    """Not here: the server process checks passwords with the real hashers."""
