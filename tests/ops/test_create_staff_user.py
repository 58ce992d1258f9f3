"""manage.py create_staff_user: non-interactive, from flags or environment, idempotent; and
Django's createsuperuser, as the app's runtime login."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError

from accounts.models import User
from lib.rls import acting_as_staff
from tests.conftest import database_url
from tests.ops.helpers import run_command

BASE_DIR = Path(__file__).resolve().parents[2]

STRONG = "a-Long-pass-phrase-77"


def test_creates_a_staff_user_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("MARAUM_STAFF_EMAIL", "ops@example.com")
    monkeypatch.setenv("MARAUM_STAFF_PASSWORD", STRONG)
    assert run_command("create_staff_user").strip() == "Created staff user ops@example.com."
    user = User.objects.get(email="ops@example.com")
    assert user.is_staff and user.is_active and user.check_password(STRONG)
    assert not user.is_superuser


def test_a_second_run_changes_nothing(db):
    run_command("create_staff_user", "--email", "ops@example.com", "--password", STRONG)
    before = User.objects.get(email="ops@example.com").password
    summary = run_command("create_staff_user", "--email", "OPS@example.com", "--password", STRONG)
    assert "nothing changed" in summary
    assert User.objects.filter(email="ops@example.com").count() == 1
    assert User.objects.get(email="ops@example.com").password == before


def test_makes_an_existing_learner_staff_without_touching_the_password(alice):
    summary = run_command("create_staff_user", "--email", "alice@example.com")
    assert "made staff" in summary
    alice.refresh_from_db()
    assert alice.is_staff


def test_a_new_user_needs_a_password(db, monkeypatch):
    monkeypatch.delenv("MARAUM_STAFF_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="MARAUM_STAFF_PASSWORD"):
        run_command("create_staff_user", "--email", "new@example.com")
    assert not User.objects.filter(email="new@example.com").exists()


def test_a_weak_password_is_refused(db):
    with pytest.raises(CommandError, match="Password refused"):
        run_command("create_staff_user", "--email", "new@example.com", "--password", "123")


def test_no_email_is_an_error(db, monkeypatch):
    monkeypatch.delenv("MARAUM_STAFF_EMAIL", raising=False)
    with pytest.raises(CommandError, match="MARAUM_STAFF_EMAIL"):
        run_command("create_staff_user")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_django_createsuperuser_works_as_the_app_runs_it():
    """As the runtime login, which may not read django_migrations nor accounts but through the
    staff role: Django's own command failed with a traceback."""
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--email",
            "boss@example.com",
        ],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "DATABASE_OWNER_URL": database_url(owner=True),
            "DJANGO_SUPERUSER_PASSWORD": STRONG,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with acting_as_staff():
        user = User.objects.get(email="boss@example.com")
    assert user.is_superuser and user.is_staff and user.has_usable_password()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("command", ["changepassword", "clearsessions"])
def test_djangos_account_commands_work_as_the_app_runs_them(alice, command):
    """Both failed with a traceback as the runtime login (the ops replay)."""
    args = [alice.email] if command == "changepassword" else []
    before = alice.password
    result = subprocess.run(
        [sys.executable, "manage.py", command, *args],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "DATABASE_OWNER_URL": database_url(owner=True),
        },
        input=f"{STRONG}\n{STRONG}\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    if command == "changepassword":  # hashed by the command's own hasher, not the tests' one
        with acting_as_staff():
            assert User.objects.get(pk=alice.pk).password != before
