"""manage.py check_setup: reports the database, RLS and roles; fails when RLS is off."""

import pytest
from django.core.management import CommandError

from tests.conftest import login_role_is_privileged, run_sql
from tests.ops.helpers import run_command


def test_a_migrated_database_passes(db, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    out = run_command("check_setup")
    assert "All checks passed" in out
    for table in ("profiles", "sessions", "messages", "logs"):
        assert f"row-level security enabled and forced on {table}" in out
    assert "role maraum_learner exists" in out and "role maraum_staff exists" in out
    assert "PostgreSQL" in out and "channel layer" in out
    assert "Anthropic API key is configured" in out
    assert "sk-ant-secret-value" not in out
    if login_role_is_privileged():
        assert "WARN  login role" in out


def test_a_missing_key_is_a_warning_not_a_failure(db, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert "WARN  ANTHROPIC_API_KEY is not set" in run_command("check_setup")


def test_rls_not_forced_fails(db):
    run_sql("ALTER TABLE messages NO FORCE ROW LEVEL SECURITY")  # rolled back with the test
    with pytest.raises(CommandError, match="1 check"):
        run_command("check_setup")
