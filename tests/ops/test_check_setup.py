"""manage.py check_setup, run as the app runs it (the runtime login): every point of the
least-privilege layout is reported, and a deployment that breaks one fails."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import database_url, run_sql

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def two_logins():
    if settings.DATABASE_RUNTIME_CREDENTIALS == settings.DATABASE_OWNER_CREDENTIALS:
        pytest.skip("one login for runtime and owner (DATABASE_OWNER_URL unset): see README")


def check_setup(*, runtime: str | None = None, **env) -> subprocess.CompletedProcess:
    merged = {
        **os.environ,
        "DATABASE_URL": runtime or database_url(),
        "DATABASE_OWNER_URL": database_url(owner=True),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check_setup", "--no-color"],
        cwd=BASE_DIR,
        env={key: value for key, value in merged.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_proper_deployment_passes_point_by_point():
    result = check_setup(ANTHROPIC_API_KEY="sk-ant-secret-value")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "owns nothing, creates nothing, inherits nothing" in out
    for role in ("maraum_learner", "maraum_staff", "maraum_auth"):
        assert f"role {role}: unprivileged" in out
    assert "PUBLIC may execute no function of ours" in out
    assert "maraum_learner reaches no account, password or session" in out
    for table in ("profiles", "sessions", "messages", "reply_claims", "logs"):
        assert f"row-level security enabled and forced on {table}" in out
    assert "Anthropic API key is configured" in out and "sk-ant-secret-value" not in out


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_running_the_app_as_the_owner_fails():
    result = check_setup(runtime=database_url(owner=True))
    assert result.returncode != 0
    assert "FAIL" in result.stdout and "tables or functions" in result.stdout


# deck_removed_cards: found by its foreign key to profiles (check_setup knew five tables).
@pytest.mark.parametrize("table", ["messages", "deck_removed_cards"])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_row_level_security_not_forced_fails(table):
    run_sql(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    try:
        result = check_setup()
    finally:
        run_sql(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    assert result.returncode != 0
    assert f"FAIL  row-level security on {table}: enabled, not forced" in result.stdout


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_missing_key_is_a_warning_not_a_failure():
    result = check_setup(ANTHROPIC_API_KEY=None)
    assert result.returncode == 0 and "WARN  ANTHROPIC_API_KEY is not set" in result.stdout
