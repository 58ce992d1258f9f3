"""How the request's learner reaches the row-level security policies.

Every database unit of work that touches learner data runs inside one of these context managers.
Each opens a transaction (or a savepoint) and sets two transaction-local settings:

- `role`: `maraum_learner` or `maraum_staff`, both ordinary roles (no superuser, no BYPASSRLS),
  so the policies apply even when DATABASE_URL logs in as a superuser;
- `maraum.learner_id`: the learner the policies let through (empty: nobody).

Both end with the transaction, so a pooled or reused connection never carries one learner's
identity into the next request. Outside these blocks the login role itself owns the tables and,
with RLS forced and no policy for it, sees no learner rows either.
"""

from contextlib import contextmanager
from uuid import UUID

from django.db import connection, transaction

LEARNER_ROLE = "maraum_learner"
STAFF_ROLE = "maraum_staff"


@contextmanager
def _acting_as(role: str, learner_id: UUID | str | None):
    nested = connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Read the old values and set the new ones in one round trip (left to right).
            cursor.execute(
                "SELECT current_setting('role'), current_setting('maraum.learner_id', true),"
                " set_config('role', %s, true), set_config('maraum.learner_id', %s, true)",
                [role, str(learner_id or "")],
            )
            previous_role, previous_learner, _, _ = cursor.fetchone()
        yield
        if nested:
            # A released savepoint keeps SET LOCAL values: put the outer block's back.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('role', %s, true),"
                    " set_config('maraum.learner_id', %s, true)",
                    [previous_role, previous_learner or ""],
                )


def acting_as_learner(learner_id: UUID | str | None):
    """Run as this learner; with None, as nobody (no learner rows are visible)."""
    return _acting_as(LEARNER_ROLE, learner_id)


def acting_as_staff():
    """Run with access to every learner's rows: the admin and ops commands, nothing else."""
    return _acting_as(STAFF_ROLE, None)
