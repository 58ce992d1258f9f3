"""What every benchmark needs: a scratch database, learners with login cookies, a Daphne
server and the fake model upstream as separate processes, and percentile figures.

Nothing here touches your data: each run migrates a new database on the configured server
(embedded PostgreSQL unless DATABASE_URL is set) and drops it at the end.
"""

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"


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


def server_url() -> str:
    """The configured server's URL (starting the embedded one if that is the default)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    sys.path.insert(0, str(BASE_DIR))
    from maraum.embedded_db import embedded_database_url

    return embedded_database_url(BASE_DIR / ".data")


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def scratch_database():
    """A new, migrated database; yields its URL and drops it afterwards."""
    url = server_url()
    name = f"maraum_bench_{uuid.uuid4().hex[:8]}"
    admin = _with_database(url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    scratch = _with_database(url, name)
    try:
        env = dict(os.environ, DATABASE_URL=scratch)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=BASE_DIR,
            env=env,
            check=True,
        )
        yield scratch
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def create_learners(count: int, completed_sessions: int = 0) -> list[dict]:
    """Learners, each logged in (a session cookie) with an active session and its openings.
    Runs in this process against the scratch database (setup_django first)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import User
    from accounts.rls import acting_as_staff
    from chat.models import Message
    from scenarios.models import Scenario, Session

    scenario = Scenario.objects.get(code="marketplace")
    learners = []
    for index in range(count):
        user = User.objects.create_user(f"bench{index}@example.com", None)
        with acting_as_staff():
            for _ in range(completed_sessions):
                done = Session.objects.create(user_id=user.pk, scenario=scenario)
                Message.objects.create(
                    session=done,
                    role="scenario",
                    chat_type="main",
                    content=scenario.initial_message_main,
                )
                Session.objects.filter(pk=done.pk).update(is_completed=True)
            session = Session.objects.create(user_id=user.pk, scenario=scenario)
            Message.objects.bulk_create(
                [
                    Message(
                        session=session,
                        role="scenario",
                        chat_type="main",
                        content=scenario.initial_message_main,
                    ),
                    Message(
                        session=session,
                        role="helper",
                        chat_type="helper",
                        content=scenario.initial_message_helper,
                    ),
                ]
            )
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        learners.append(
            {
                "user_id": str(user.pk),
                "session_id": str(session.pk),
                "cookie": f"sessionid={store.session_key}",
            }
        )
    return learners


@contextlib.contextmanager
def daphne(
    database_url: str,
    extra_env: dict,
    *,
    app: str = "bench.asgi:application",
    settings_module: str = "bench.settings",
    log_path: Path | None = None,
):
    """A Daphne process serving `app` on a free loopback port; yields (process, port)."""
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE=settings_module,
        LOG_LEVEL="WARNING",
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
            wait_for_port(port, process)
            yield process, port
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def fake_upstream(ttft: float, tokens_per_second: float, tokens: int):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "tests/fakes/anthropic_server.py",
            "--port",
            str(port),
            "--ttft",
            str(ttft),
            "--tokens-per-second",
            str(tokens_per_second),
            "--tokens",
            str(tokens),
        ],
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


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median": None, "p95": None, "p99": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 2),
        "p95": round(at(0.95), 2),
        "p99": round(at(0.99), 2),
    }


def write_results(name: str, figures: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path
