"""`migrate` on an empty database builds everything; `migrate <app> zero` takes it all back."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.conftest import database_url

BASE_DIR = Path(__file__).resolve().parents[2]
APPS_IN_REVERSE = ["eventlog", "chat", "scenarios", "accounts"]


@pytest.fixture
def empty_database(db):
    params = connection.get_connection_params()
    name = f"maraum_migrations_{uuid.uuid4().hex[:8]}"
    admin = dict(params, dbname="postgres", autocommit=True)
    admin = {
        k: admin[k]
        for k in ("dbname", "user", "host", "port", "password", "autocommit")
        if k in admin
    }
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield database_url(name)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(url: str, *args: str) -> str:
    env = dict(os.environ, DATABASE_URL=url)
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _leftovers(url: str) -> list:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT 'table ' || tablename FROM pg_tables WHERE schemaname = 'public'"
            "   AND tablename IN ('profiles', 'scenarios', 'sessions', 'messages', 'logs')"
            " UNION ALL SELECT 'function ' || proname FROM pg_proc p"
            "   WHERE pronamespace = 'public'::regnamespace"  # ours, not an extension's:
            "   AND NOT EXISTS (SELECT 1 FROM pg_depend d"
            "                   WHERE d.objid = p.oid AND d.deptype = 'e')"
            " UNION ALL SELECT 'type ' || typname FROM pg_type"
            "   WHERE typname IN ('message_role', 'chat_type')"
        ).fetchall()


def test_migrate_builds_an_empty_database_and_zero_takes_it_back(empty_database):
    _manage(empty_database, "migrate", "--noinput")
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT count(*) FROM scenarios").fetchone() == (3,)
    for app in APPS_IN_REVERSE:
        _manage(empty_database, "migrate", app, "zero", "--noinput")
    assert _leftovers(empty_database) == []
    _manage(empty_database, "migrate", "--noinput")  # and forward again
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT count(*) FROM scenarios").fetchone() == (3,)
