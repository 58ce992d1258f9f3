"""What every benchmark needs: a scratch database, learners with login cookies, and percentile
figures. The Daphne process and the fake model upstream are the tests' (tests/support/).

Nothing here touches your data: each run migrates a new database on the configured server
(embedded PostgreSQL unless DATABASE_URL is set) and drops it at the end.
"""

import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))  # the project's packages, for a script run from bench/

from tests.support.servers import daphne, free_port, stop, wait_for_port  # noqa: E402

RESULTS_DIR = BASE_DIR / "bench" / "results"


def server_urls() -> tuple[str, str]:
    """(runtime URL, owner URL) of the configured server (starting the embedded one if that is
    the default)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, os.environ.get("DATABASE_OWNER_URL") or url
    from lib.embedded_db import embedded_database_urls

    return embedded_database_urls(BASE_DIR / ".data")


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@dataclasses.dataclass(frozen=True)
class ScratchDatabase:
    runtime_url: str  # what the server logs in as
    owner_url: str  # what sets it up: migrations, and the bench's own fixtures


@contextlib.contextmanager
def scratch_database():
    """A new, migrated database (made by the owner role); dropped afterwards."""
    runtime, owner = server_urls()
    name = f"maraum_bench_{uuid.uuid4().hex[:8]}"
    admin = _with_database(owner, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = ScratchDatabase(_with_database(runtime, name), _with_database(owner, name))
    try:
        env = dict(
            os.environ, DATABASE_URL=database.runtime_url, DATABASE_OWNER_URL=database.owner_url
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=BASE_DIR,
            env=env,
            check=True,
        )
        yield database
    finally:
        _close_django_connections()  # a bench that ran Django in this process (setup_django)
        with psycopg.connect(admin, autocommit=True) as conn:
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.errors.InsufficientPrivilege:
                # FORCE may not end the server's own autovacuum worker; a plain DROP does.
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _close_django_connections() -> None:
    """The owner may not end the runtime login's sessions (FORCE needs pg_signal_backend)."""
    from django.conf import settings

    if settings.configured:
        from django.db import connections

        connections.close_all()


def setup_django(database: ScratchDatabase) -> None:
    """Django in this process, as the owner: the bench's fixtures act as staff."""
    os.environ["DATABASE_URL"] = database.owner_url
    os.environ["DATABASE_OWNER_URL"] = database.owner_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()


def create_learners(count: int, completed_sessions: int = 0, prefix: str = "bench") -> list[dict]:
    """Learners, each logged in (a session cookie) with an active session and its openings.
    Runs in this process against the scratch database (setup_django first)."""
    from accounts.models import User
    from chat.messages import add_openings
    from chat.models import Message
    from lib.rls import acting_as_staff
    from scenarios.models import Scenario, Session
    from tests.support.logins import login_session_key

    scenario = Scenario.objects.get(code="marketplace")
    learners = []
    for index in range(count):
        user = User.objects.create_user(f"{prefix}{index}@example.com", None)
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
            add_openings(session)
        learners.append(
            {
                "user_id": str(user.pk),
                "session_id": str(session.pk),
                "cookie": f"sessionid={login_session_key(user)}",
            }
        )
    return learners


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


@contextlib.contextmanager
def bench_daphne(database_url: str, extra_env: dict, **options):
    """Daphne serving the bench's app (the real one plus a minimal floor view)."""
    log = os.environ.get("BENCH_SERVER_LOG")  # where the server's output goes (default: nowhere)
    with daphne(
        database_url,
        extra_env,
        app="bench.asgi:application",
        settings_module="bench.settings",
        log_path=Path(log) if log else None,
        **options,
    ) as running:
        yield running


@contextlib.contextmanager
def py_spy(pids: list[int], seconds: float, path: Path):
    """Samples the Python thread holding the GIL (CPU spent in Python, not waiting) of each
    process for `seconds`, into collapsed stacks at `path` (one file per process: .<pid>)."""
    spy = Path(sys.executable).with_name("py-spy")
    records = [
        subprocess.Popen(
            [
                spy,
                "record",
                "--gil",
                "--nonblocking",
                "-r",
                "200",
                "-d",
                str(int(seconds)),
                "-f",
                "raw",
                "-p",
                str(pid),
                "-o",
                f"{path}.{pid}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]
    try:
        yield
    finally:
        for record in records:
            record.wait(timeout=seconds + 30)


def where_time_goes(paths: list[Path], top: int = 12) -> dict:
    """From collapsed stacks: the share of samples by library (the innermost frame's package)
    and by our own function (inclusive: it or anything it calls)."""
    by_package, by_function, total = {}, {}, 0
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames, count = stack.split(";"), int(count)
            total += count
            package = _package(frames[-1])
            by_package[package] = by_package.get(package, 0) + count
            ours = {_function(f) for f in frames if _is_ours(f)}
            for function in ours:
                by_function[function] = by_function.get(function, 0) + count

    def shares(counts: dict) -> dict:
        ranked = sorted(counts.items(), key=lambda item: -item[1])[:top]
        return {name: round(100 * n / total, 1) for name, n in ranked}

    return {
        "samples": total,
        "by_package_self": shares(by_package),
        "ours_inclusive": shares(by_function),
    }


_OURS = ("chat/", "lib/", "accounts/", "scenarios/", "eventlog/", "maraum/")


def _where(frame: str) -> str:  # py-spy's "function (path:line)", path relative to sys.path
    return frame.rpartition(" (")[2].rstrip(")")


def _is_ours(frame: str) -> bool:
    return _where(frame).startswith(_OURS)


def _function(frame: str) -> str:
    return f"{frame.rpartition(' (')[0]} ({_where(frame).split(':')[0]})"


def _package(frame: str) -> str:
    return _where(frame).split("/", 1)[0].split(":")[0].removesuffix(".py")


@contextlib.contextmanager
def bench_uvicorn(database_url: str, extra_env: dict):
    """The same app under uvicorn (uvloop, httptools, websockets), to compare servers; it has
    no graceful drain or request-body limit of Maraum's own (maraum/serve.py is Daphne's)."""
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="bench.settings",
        LOG_LEVEL="WARNING",
        HTTPS="false",
        **extra_env,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--ws",
            "websockets",
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield process, port
    finally:
        stop(process)
