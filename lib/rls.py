"""The database roles the app acts as, and how a request's learner reaches the row-level
security policies.

Every unit of database work runs inside one of these context managers (or, for a chat turn's
hot path, `as_learner_in_one_round_trip`). Each opens a transaction (or a savepoint) and sets
two transaction-local settings:

- `role`: one of three ordinary roles (no superuser, no BYPASSRLS), each with only the
  privileges its requests need (accounts/migrations/0005):
  - `maraum_learner`: a learner's pages and chat, their own rows only (the policies);
  - `maraum_auth`: sessions and accounts: loading the logged-in user, logging in and out,
    signing up, resetting a password, deleting an account;
  - `maraum_staff`: the admin and the ops commands, every row;
- `maraum.learner_id`: the learner the policies let through (empty: nobody).

Both end with the transaction, so a pooled or reused connection never carries one learner's
identity into the next request. Outside these blocks the runtime login (DATABASE_URL) has no
privilege at all: it owns nothing and inherits nothing from the roles it may switch to.
"""

from contextlib import contextmanager
from functools import wraps
from uuid import UUID

from django.db import connection, transaction

LEARNER_ROLE = "maraum_learner"
STAFF_ROLE = "maraum_staff"
AUTH_ROLE = "maraum_auth"


@contextmanager
def _acting_as(role: str, learner_id: UUID | str | None, *, savepoint: bool = True):
    wanted = (role, str(learner_id or ""))
    nested = connection.in_atomic_block
    with transaction.atomic(savepoint=savepoint):
        previous = _acting_now()
        if previous == wanted:  # already so in this transaction: nothing to set or restore
            yield
            return
        with connection.cursor() as cursor:
            # Read the old values and set the new ones in one round trip (left to right).
            cursor.execute(
                "SELECT current_setting('role'), current_setting('maraum.learner_id', true),"
                " set_config('role', %s, true), set_config('maraum.learner_id', %s, true)",
                wanted,
            )
            previous_role, previous_learner, _, _ = cursor.fetchone()
        _remember(wanted)
        try:
            yield
        finally:
            _remember(previous)
        if nested and not connection.needs_rollback:
            # A released savepoint keeps SET LOCAL values: put the outer block's back.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('role', %s, true),"
                    " set_config('maraum.learner_id', %s, true)",
                    [previous_role, previous_learner or ""],
                )


def _acting_now() -> tuple[str, str] | None:
    """Who this connection acts as in its current transaction, if one of these blocks set it
    (the settings end with the transaction: a remembered one from an earlier is ignored)."""
    remembered = getattr(connection, "_maraum_acting_as", None)
    if remembered and connection.atomic_blocks and connection.atomic_blocks[0] is remembered[1]:
        return remembered[0]
    return None


def _remember(acting: tuple[str, str] | None) -> None:
    outermost = connection.atomic_blocks[0] if connection.atomic_blocks else None
    connection._maraum_acting_as = (acting, outermost) if acting else None


def acting_as_learner(learner_id: UUID | str | None, *, savepoint: bool = True):
    """Run as this learner; with None, as nobody (no learner rows are visible). Without a
    savepoint (a whole request: an error rolls all of it back) it costs one query less."""
    return _acting_as(LEARNER_ROLE, learner_id, savepoint=savepoint)


def as_learner_in_one_round_trip(learner_id: UUID | str, statements: list[tuple[str, list]]):
    """Run `statements` as the learner in a transaction of their own, sent with the role in one
    query: PostgreSQL runs a query of several statements as one transaction, so the role, the
    statements and the commit cost one round trip (a chat turn's hot path; an acting_as block
    costs four or more: BEGIN, the role, each statement, COMMIT). Returns each statement's
    rows. Inside a transaction already (the caller's, a test's) they run in it, one by one.

    The parameters are bound into the query's text (Django's psycopg cursors bind client-side,
    which allows several statements; a pipeline with server-side binding cost twice the CPU):
    so no credential goes in them, and the server is set not to log statements
    (deploy/database-roles.sql, check_setup)."""
    if connection.in_atomic_block:
        with acting_as_learner(learner_id), connection.cursor() as cursor:
            results = []
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall())
            return results
    role = "SELECT set_config('role', %s, true), set_config('maraum.learner_id', %s, true)"
    query = ";\n".join([role] + [sql for sql, _ in statements])
    params = [LEARNER_ROLE, str(learner_id)] + [p for _, ps in statements for p in ps]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        results = []
        for _ in statements:
            cursor.nextset()
            results.append(cursor.fetchall())
        return results


def acting_as_staff(*, savepoint: bool = True):
    """Run with access to every learner's rows: the admin and ops commands, nothing else."""
    return _acting_as(STAFF_ROLE, None, savepoint=savepoint)


def acting_as_auth():
    """Sessions and accounts: the login, sign-up, reset and deletion flows, and loading the
    user of a request or a websocket."""
    return _acting_as(AUTH_ROLE, None)


def as_owner(alias: str = "default") -> None:
    """From now on, this process's `alias` connection logs in as the database owner
    (DATABASE_OWNER_URL): for `migrate`, and for the test suite's own set-up."""
    from django.conf import settings
    from django.db import connections

    owner = settings.DATABASE_OWNER_CREDENTIALS
    connection = connections[alias]
    if connection.settings_dict["USER"] != owner["USER"]:
        connection.close()
        connection.settings_dict.update(owner)


def with_auth_role(view):
    """A view of the account flows (log in and out, sign up, reset, delete): it runs as
    maraum_auth, the one role that reaches sessions and accounts."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        with acting_as_auth():
            return view(request, *args, **kwargs)

    return wrapped
