"""Least privilege, proved as the app's own runtime login (DATABASE_URL): it owns nothing, can
create no role, reaches data only by switching to a policy role, and each policy role has only
what its requests need. No function of ours is executable by PUBLIC."""

import psycopg
import pytest
from django.conf import settings

from tests.conftest import raw_connection, run_sql

LEARNER_TABLES = ["profiles", "sessions", "messages", "reply_claims", "reached_goals", "logs"]


@pytest.fixture
def runtime(db):
    if settings.DATABASE_RUNTIME_CREDENTIALS == settings.DATABASE_OWNER_CREDENTIALS:
        pytest.skip("one login for runtime and owner (DATABASE_OWNER_URL unset): see README")
    with raw_connection(runtime=True) as conn:
        conn.autocommit = True
        yield conn


def _refused(conn, sql: str, params=None) -> bool:
    try:
        with conn.transaction():
            conn.execute(sql, params)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def _as(conn, role: str, learner_id="") -> None:
    conn.execute(
        "SELECT set_config('role', %s, true), set_config('maraum.learner_id', %s, true)",
        [role, str(learner_id)],
    )


def test_the_runtime_login_owns_nothing_and_may_create_no_role(runtime):
    row = runtime.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolinherit"
        " FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False, False, False, False)
    owned = runtime.execute(
        "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles"
        " WHERE rolname = current_user)"
        " UNION ALL SELECT count(*) FROM pg_proc WHERE proowner = (SELECT oid FROM pg_roles"
        " WHERE rolname = current_user)"
    ).fetchall()
    assert owned == [(0,), (0,)]
    admin = runtime.execute(
        "SELECT count(*) FROM pg_auth_members WHERE member = (SELECT oid FROM pg_roles"
        " WHERE rolname = current_user) AND admin_option"
    ).fetchone()
    assert admin == (0,)  # it may grant no role to anyone


@pytest.mark.parametrize("table", [*LEARNER_TABLES, "scenarios", "accounts_user", "django_session"])
def test_the_runtime_login_reads_nothing_as_itself(runtime, table):
    assert _refused(runtime, f"SELECT 1 FROM {table}")


def test_setting_a_learner_without_switching_role_opens_nothing(runtime, alice):
    with runtime.transaction():
        runtime.execute("SELECT set_config('maraum.learner_id', %s, true)", [str(alice.pk)])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute("SELECT count(*) FROM profiles")


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE messages NO FORCE ROW LEVEL SECURITY",
        "CREATE POLICY mine ON messages FOR SELECT USING (true)",
        "DROP TRIGGER messages_immutable ON messages",
        "SET ROLE {owner}",
        "CREATE ROLE intruder",
        "GRANT maraum_staff TO maraum_learner",
    ],
)
def test_the_runtime_login_cannot_loosen_the_rules(runtime, statement):
    owner = settings.DATABASE_OWNER_CREDENTIALS["USER"]
    assert _refused(runtime, statement.format(owner=owner))


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT password FROM accounts_user",
        "SELECT count(*) FROM accounts_user",
        "UPDATE accounts_user SET is_staff = true, is_superuser = true",
        "SELECT session_data FROM django_session",
        "SELECT count(*) FROM throttle_buckets",
        "UPDATE scenarios SET title = 'x'",
        "UPDATE messages SET content = 'x'",
        "DELETE FROM messages",
        "SELECT fill_bucket('login-account:x')",
        "SELECT drop_log_partitions_before(now())",
        "SELECT add_log_partition(current_date + 400)",
        "DROP TABLE logs_default",
        "SELECT count(*) FROM deleted_accounts_weeks",
        "SELECT salt FROM deleted_accounts_weeks_salt",
        "SELECT deleted_account_digest('alice@example.com')",
        "SELECT forget_ended_weeks_of_deleted_accounts()",
    ],
)
def test_a_learner_transaction_reaches_no_account_and_no_session(runtime, alice, statement):
    with runtime.transaction():
        _as(runtime, "maraum_learner", alice.pk)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute(statement)


def test_the_accounts_role_cannot_make_staff(runtime, alice):
    with runtime.transaction():
        _as(runtime, "maraum_auth")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute("UPDATE accounts_user SET is_staff = true WHERE id = %s", [alice.pk])
    with runtime.transaction():
        _as(runtime, "maraum_auth")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="Only staff make staff"):
            runtime.execute(
                "INSERT INTO accounts_user (id, password, email, is_staff, is_superuser,"
                " is_active, date_joined) VALUES (gen_random_uuid(), '', 'x@example.com',"
                " true, false, true, now())"
            )


def test_the_accounts_role_reads_no_learner_data(runtime, alice):
    for table in ("profiles", "sessions", "messages", "logs", "deleted_accounts_weeks"):
        with runtime.transaction():
            _as(runtime, "maraum_auth")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                runtime.execute(f"SELECT 1 FROM {table}")


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT salt FROM deleted_accounts_weeks_salt",
        "SELECT count(*) FROM deleted_accounts_weeks",
        "SELECT completions_of_deleted_accounts('alice@example.com')",
        "SELECT deleted_account_digest('alice@example.com')",
    ],
)
def test_no_role_of_the_app_learns_which_emails_deleted_an_account(runtime, statement):
    """Staff's role could ask of any email whether it deleted an account this week, and with
    how many scenes (the attacker's replay)."""
    for role in ("maraum_learner", "maraum_staff", "maraum_auth"):
        with runtime.transaction():
            _as(runtime, role)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                runtime.execute(statement)


def test_public_may_execute_no_function_of_ours(db):
    public_executable = run_sql(
        "SELECT p.proname FROM pg_proc p"
        " WHERE p.pronamespace = 'public'::regnamespace"
        "   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
        "   AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a"
        "        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))"
        " ORDER BY 1"
    )
    assert public_executable == []
