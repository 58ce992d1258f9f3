"""Shared fixtures: two learners ("alice" and "bob") so every access test has a stranger."""

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from accounts.models import User
from chat.models import Message
from lib.rls import acting_as_learner, acting_as_staff, as_owner
from scenarios.models import Scenario, Session

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def plain_http(settings):
    """The test client speaks http; HTTPS is on by default outside DEBUG (settings)."""
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hashing is Argon2's deliberate slowness; no test is about that."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice@example.com", PASSWORD)


@pytest.fixture
def bob(db) -> User:
    return User.objects.create_user("bob@example.com", PASSWORD)


@pytest.fixture
def marketplace(db) -> Scenario:
    return Scenario.objects.get(code="marketplace")


@pytest.fixture
def party(db) -> Scenario:
    return Scenario.objects.get(code="party")


KIOSK_GOALS = [
    ("Greet Herr Yilmaz", r"hallo|guten (tag|morgen|abend)"),
    ("Buy a newspaper", r"zeitung"),
    ("Say goodbye", r"tsch[üu]ss|wiedersehen"),
]


def kiosk_fields(**changes) -> dict:
    """A complete scene, as staff would author it in the admin."""
    return {
        "code": "kiosk",
        "title": "Kiosk",
        "emoji": "📰",
        "description": "Buy a newspaper at the kiosk on the corner.",
        "character_name": "Herr Yilmaz",
        "character_brief": "You run a small kiosk. You use “Sie”. A newspaper costs 2,50 €.",
        "initial_message_main": "Guten Morgen! Was darf es sein?",
        "initial_message_helper": "Say hello: “Guten Morgen!”",
        "suggested_levels": ["A1"],
        "vocabulary": [{"german": "die Zeitung", "gloss": "newspaper"}],
        "offline_lines": [
            "Guten Morgen! Schön, Sie zu sehen.",
            "Die Zeitung kostet 2,50 Euro.",
            "Danke schön! Noch etwas?",
            "Auf Wiedersehen und einen schönen Tag!",
        ],
        "offline_tips": ["“Ich hätte gern eine Zeitung.” means “I'd like a newspaper.”"],
        "sort_order": 90,
        **changes,
    }


def as_staff_type_it(field: str, value: list) -> str:
    """A scene's list as the admin's form takes it: one a line, words as "German = meaning"."""
    if field == "vocabulary":
        return "\n".join(f"{word['german']} = {word['gloss']}" for word in value)
    return "\n".join(value)


def author_kiosk(**changes) -> Scenario:
    from scenarios.models import Goal

    with acting_as_staff():
        kiosk = Scenario.objects.create(**kiosk_fields(**changes))
        for position, (text, pattern) in enumerate(KIOSK_GOALS, 1):
            Goal.objects.create(
                scenario=kiosk, position=position, text=text, offline_pattern=pattern
            )
        return kiosk


@pytest.fixture
def kiosk(db) -> Scenario:
    return author_kiosk()


def start_session(user: User, scenario: Scenario, **fields) -> Session:
    """A session for `user`, created as that learner would (through row-level security)."""
    with acting_as_learner(user.pk):
        return Session.objects.create(user_id=user.pk, scenario=scenario, **fields)


def add_message(session: Session, role: str, chat_type: str, content: str = "Hallo!") -> Message:
    with acting_as_learner(session.user_id):
        return Message.objects.create(
            session=session, role=role, chat_type=chat_type, content=content
        )


def complete(session: Session) -> Session:
    with acting_as_learner(session.user_id):
        Session.objects.filter(pk=session.pk).update(is_completed=True)
    with acting_as_staff():
        return Session.objects.get(pk=session.pk)


def staff_get(model, **lookup):
    with acting_as_staff():
        return model.objects.get(**lookup)


@contextmanager
def failing_statements() -> Iterator[list[str]]:
    """The statements that fail meanwhile on this thread's connection: each one a server may
    log with its text, what a learner wrote in it (README, "The server's own log")."""
    from django.db import DatabaseError

    failed: list[str] = []

    def record_failures(execute, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except DatabaseError:
            failed.append(sql)
            raise

    with connection.execute_wrapper(record_failures):
        yield failed


def run_sql(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def conninfo(*, runtime: bool = False) -> dict:
    """psycopg keyword arguments for the test database, for tests that need more connections:
    as the owner (what the suite runs as), or as the app's runtime login."""
    params = connection.get_connection_params()
    info = {
        key: params[key] for key in ("dbname", "user", "host", "port", "password") if key in params
    }
    if runtime:
        info["user"] = settings.DATABASE_RUNTIME_CREDENTIALS["USER"]
        info["password"] = settings.DATABASE_RUNTIME_CREDENTIALS["PASSWORD"] or None
    return {key: value for key, value in info.items() if value is not None}


@contextmanager
def raw_connection(*, runtime: bool = False) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(**conninfo(runtime=runtime))
    try:
        yield conn
    finally:
        conn.close()


def until_a_lock_is_awaited(watcher: psycopg.Connection) -> None:
    """Until a backend of the test database waits on a lock (`watcher`: in autocommit, as
    pg_stat_activity is a snapshot per transaction)."""
    waiting = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while not watcher.execute(waiting).fetchone()[0]:
        pass


def database_url(dbname: str | None = None, *, owner: bool = False) -> str:
    """A DATABASE_URL for the test database (by default), logging in as the app's runtime role
    (or, with owner=True, as the owner): for the servers and commands the tests start in
    processes of their own."""
    params = connection.get_connection_params()
    host, port = str(params.get("host") or "127.0.0.1"), params.get("port") or 5432
    login = settings.DATABASE_OWNER_CREDENTIALS if owner else settings.DATABASE_RUNTIME_CREDENTIALS
    password = f":{quote(login['PASSWORD'])}" if login.get("PASSWORD") else ""
    name, user = dbname or params["dbname"], login["USER"]
    if host.startswith("/"):  # a unix socket directory, as the embedded server uses
        return f"postgres://{user}{password}@/{name}?host={host}&port={port}"
    return f"postgres://{user}{password}@{host}:{port}/{name}"


def login_role_is_privileged() -> bool:
    (row,) = run_sql("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    return row[0]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """The suite runs as the database owner: it creates and migrates the test database and
    sets up each test's data. The code under test switches to the policy roles exactly as in
    production (lib/rls.py); the servers the tests start log in as the runtime role
    (`database_url()`), and tests about the runtime login connect as it explicitly."""
    as_owner()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end connections that worker threads (the
    consumer's database_sync_to_async pool) still hold open.

    And a worker thread's transaction left open by a test that failed mid-turn ends after a
    while longer than any test may take (pytest-timeout's 120 s): its locks held the next
    flush for good, and a failing consumer test hung the run (seen once)."""
    from django.db import connection

    with django_db_blocker.unblock():
        run_sql(
            f'ALTER DATABASE "{connection.settings_dict["NAME"]}"'
            " SET idle_in_transaction_session_timeout = '150s'"
        )
    yield
    with django_db_blocker.unblock():
        run_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
