"""`migrate` on an empty database builds everything; `migrate <app> zero` takes it all back."""

import json
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
    yield database_url(name, owner=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(owner_url: str, *args: str) -> str:
    """manage.py as the app runs it: the runtime login, with the owner's for `migrate`."""
    name = owner_url.split("?")[0].rsplit("/", 1)[1]
    env = dict(os.environ, DATABASE_URL=database_url(name), DATABASE_OWNER_URL=owner_url)
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


# In one process (a manage.py per step took most of this test's time): migrate, take every
# app back to zero, report what is left, migrate again.
ROUND_TRIP = """
import json
from django.core.management import call_command
from django.db import connection

def scenarios():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scenarios")
        return cursor.fetchone()[0]

call_command("migrate", interactive=False, verbosity=0)
built = scenarios()
for app in %(apps)r:
    call_command("migrate", app, "zero", interactive=False, verbosity=0)
with connection.cursor() as cursor:
    cursor.execute(%(leftovers)r)
    left = [row[0] for row in cursor.fetchall()]
call_command("migrate", interactive=False, verbosity=0)
print(json.dumps({"built": built, "left": left, "rebuilt": scenarios()}))
"""

LEFTOVERS = (
    "SELECT 'table ' || tablename FROM pg_tables WHERE schemaname = 'public'"
    "   AND tablename IN ('profiles', 'scenarios', 'sessions', 'messages', 'logs')"
    " UNION ALL SELECT 'function ' || proname FROM pg_proc p"
    "   WHERE pronamespace = 'public'::regnamespace"  # ours, not an extension's:
    "   AND NOT EXISTS (SELECT 1 FROM pg_depend d"
    "                   WHERE d.objid = p.oid AND d.deptype = 'e')"
    " UNION ALL SELECT 'type ' || typname FROM pg_type"
    "   WHERE typname IN ('message_role', 'chat_type')"
)


def test_migrate_builds_an_empty_database_and_zero_takes_it_back(empty_database):
    script = ROUND_TRIP % {"apps": APPS_IN_REVERSE, "leftovers": LEFTOVERS}
    outcome = json.loads(_manage(empty_database, "shell", "-c", script).splitlines()[-1])
    assert outcome == {"built": 11, "left": [], "rebuilt": 11}  # the shipped scenes
