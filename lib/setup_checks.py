"""Is this deployment set up safely? One home for the checks that `manage.py check_setup`
prints point by point and `manage.py check --deploy --database default` reports when they fail.

Each check yields Findings: ("ok" | "warn" | "fail", what was found).
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from lib import task_queue
from lib.embedded_db import PRIVATE_LOGGING
from lib.rls import AUTH_ROLE, LEARNER_ROLE, STAFF_ROLE, acting_as_staff

POLICY_ROLES = (LEARNER_ROLE, STAFF_ROLE, AUTH_ROLE)
# The learner tables found without looking: each other with a foreign key to `profiles` is one
# too, found in the database (`learner_tables()`), so that a new one is checked as it comes.
RLS_TABLES = ("profiles", "sessions", "messages", "reply_claims", "logs")


@dataclass(frozen=True)
class Finding:
    status: str  # "ok", "warn" or "fail"
    text: str


def findings() -> Iterator[Finding]:
    try:
        yield from _database()
    except DatabaseError as error:
        yield Finding("fail", f"database: {str(error).strip().splitlines()[0]}")
    yield from _channel_layer()
    yield from _model_key()


def _one(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _database() -> Iterator[Finding]:
    version, database, login = _one(
        "SELECT current_setting('server_version'), current_database(), session_user"
    )
    host = connection.settings_dict.get("HOST") or "local socket"
    yield Finding("ok", f"database: PostgreSQL {version}, {database} on {host}, login {login}")
    if int(version.split(".")[0]) < 13:
        yield Finding("fail", "database: PostgreSQL 13 or newer is required")
    yield from _runtime_login(login)
    yield from _policy_roles(login)
    yield from _public_functions()
    yield from _row_level_security()
    yield from _server_logging()
    yield from _task_worker()
    with acting_as_staff():
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        yield Finding("fail", f"{len(pending)} migration(s) not applied: run manage.py migrate")
    else:
        yield Finding("ok", "all migrations applied")


def _runtime_login(login: str) -> Iterator[Finding]:
    superuser, bypass, create_role, create_db, inherits = _one(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolinherit"
        " FROM pg_roles WHERE rolname = session_user"
    )
    if superuser or bypass:
        yield Finding("fail", f"login {login} is superuser or BYPASSRLS: give the app its own")
    powers = [name for name, has in (("CREATEROLE", create_role), ("CREATEDB", create_db)) if has]
    if powers:
        yield Finding(
            "fail", f"login {login} has {', '.join(powers)}: the runtime login needs none"
        )
    if inherits:
        yield Finding("fail", f"login {login} inherits its roles' privileges: make it NOINHERIT")
    (owned,) = _one(
        "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)"
        " + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)"
        " FROM pg_roles r WHERE rolname = session_user"
    )
    if owned:
        yield Finding(
            "fail",
            f"login {login} owns {owned} tables or functions: migrate as the owner "
            "(DATABASE_OWNER_URL) and run the app as a login that owns nothing",
        )
    if not (superuser or bypass or powers or inherits or owned):
        yield Finding("ok", f"login {login} owns nothing, creates nothing, inherits nothing")
    if settings.DATABASE_OWNER_CREDENTIALS == settings.DATABASE_RUNTIME_CREDENTIALS:
        yield Finding("warn", "DATABASE_OWNER_URL is not set: one login migrates and runs the app")


def _policy_roles(login: str) -> Iterator[Finding]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolname, rolsuper OR rolbypassrls, rolcanlogin,"
            " pg_has_role(session_user, oid, 'MEMBER')"
            " FROM pg_roles WHERE rolname = ANY(%s)",
            [list(POLICY_ROLES)],
        )
        roles = {name: rest for name, *rest in cursor.fetchall()}
    for role in POLICY_ROLES:
        if role not in roles:
            yield Finding("fail", f"role {role} does not exist (deploy/database-roles.sql)")
        elif roles[role][0] or roles[role][1]:
            yield Finding("fail", f"role {role} is privileged or can log in: policies do not hold")
        elif not roles[role][2]:
            yield Finding("fail", f"login {login} cannot switch to {role}")
        else:
            yield Finding("ok", f"role {role}: unprivileged, reachable from {login}")
    (learner_reach,) = _one(
        "SELECT count(*) FROM unnest(ARRAY['accounts_user', 'django_session']) AS t(name)"
        " WHERE to_regclass(t.name) IS NOT NULL"
        " AND has_table_privilege('maraum_learner', t.name, 'SELECT, UPDATE, INSERT, DELETE')"
    )
    if learner_reach:
        yield Finding("fail", "maraum_learner reaches accounts or sessions: run migrate")
    else:
        yield Finding("ok", "maraum_learner reaches no account, password or session")


def _public_functions() -> Iterator[Finding]:
    (count,) = _one(
        "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
        " AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a"
        "      WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))"
    )
    if count:
        yield Finding("fail", f"PUBLIC may execute {count} function(s) of ours: run migrate")
    else:
        yield Finding("ok", "PUBLIC may execute no function of ours")


# `profiles` and every table with a foreign key to one of these, however far (a table keyed
# to `sessions` only: the last note's left item).
LEARNER_TABLES = """
    WITH RECURSIVE owned(oid) AS (
        SELECT to_regclass('profiles')::oid
        UNION
        SELECT conrelid FROM pg_constraint JOIN owned ON confrelid = owned.oid WHERE contype = 'f'
    )
    SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class c
    WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition
    AND (relname = ANY(%s) OR oid IN (SELECT oid FROM owned))
"""


def learner_tables() -> dict[str, tuple[bool, bool]]:
    """Each table a learner owns rows of (`profiles`, and each keyed to it or to another of
    them; not a partition: its parent's policies hold), with whether row-level security is
    enabled and forced on it."""
    with connection.cursor() as cursor:
        cursor.execute(LEARNER_TABLES, [list(RLS_TABLES)])
        return {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}


def _row_level_security() -> Iterator[Finding]:
    found = learner_tables()
    for table in sorted(set(RLS_TABLES) | set(found)):
        enabled, forced = found.get(table, (False, False))
        if enabled and forced:
            yield Finding("ok", f"row-level security enabled and forced on {table}")
        else:
            state = "no such table" if table not in found else "enabled" if enabled else "off"
            yield Finding(
                "fail", f"row-level security on {table}: {state}{'' if forced else ', not forced'}"
            )


def _server_logging() -> Iterator[Finding]:
    off = []
    for name, wanted in PRIVATE_LOGGING.items():
        (value,) = _one(f"SELECT current_setting('{name}')")
        if value != wanted:
            off.append(f"{name}={value} (want {wanted})")
    if off:
        yield Finding(
            "warn", "the server may log what learners write: " + ", ".join(off) + " (README)"
        )
    else:
        yield Finding("ok", "the server logs no failing statement, parameter or detail")


def _task_worker() -> Iterator[Finding]:
    waiting = task_queue.count_waiting_too_long()
    minutes = task_queue.WAITING_TOO_LONG.total_seconds() / 60
    if waiting:
        yield Finding(
            "warn",
            f"{waiting} background task(s) waiting over {minutes:.0f} minutes: is a task worker"
            " running (manage.py task_worker)? Scene reports and meanings wait for one",
        )
    else:
        yield Finding("ok", f"no background task has waited over {minutes:.0f} minutes")


def _channel_layer() -> Iterator[Finding]:
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    if backend.endswith("InMemoryChannelLayer"):
        yield Finding("warn", f"channel layer {backend}: one process only (set REDIS_URL)")
    else:
        yield Finding("ok", f"channel layer {backend}")


def _model_key() -> Iterator[Finding]:
    if os.environ.get("ANTHROPIC_API_KEY", "").strip():
        yield Finding("ok", "Anthropic API key is configured (ANTHROPIC_API_KEY)")
    else:
        yield Finding("warn", "ANTHROPIC_API_KEY is not set: the offline partner answers")


@checks.register(checks.Tags.database, deploy=True)
def setup_check(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """`manage.py check --deploy --database default`: the failing and doubtful findings
    (not while `migrate` checks the project, before the tables exist)."""
    if not databases or "default" not in databases:
        return []
    kind = {"fail": checks.Error, "warn": checks.Warning}
    ids = {"fail": "maraum.E001", "warn": "maraum.W001"}
    return [
        kind[finding.status](finding.text, id=ids[finding.status])
        for finding in findings()
        if finding.status in kind
    ]
