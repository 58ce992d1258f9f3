"""Shared steps for the command tests: run a command, age rows, read the last log row."""

from io import StringIO

from django.core.management import call_command

from eventlog.models import Log
from lib.rls import acting_as_staff
from tests.conftest import run_sql


def run_command(name: str, *args) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def age_session(session, days: float) -> None:
    with acting_as_staff():
        run_sql(
            "UPDATE sessions SET last_activity_at = now() - make_interval(secs => %s)"
            " WHERE id = %s",
            [days * 86400, session.pk],
        )


def add_log(days_old: float, event_type: str = "user_logout") -> None:
    with acting_as_staff():
        run_sql(
            "INSERT INTO logs (level, event_type, created_at)"
            " VALUES ('info', %s, now() - make_interval(secs => %s))",
            [event_type, days_old * 86400],
        )


def last_log(event_type: str) -> Log | None:
    with acting_as_staff():
        return Log.objects.filter(event_type=event_type).order_by("-created_at", "-id").first()


def log_count(event_type: str) -> int:
    with acting_as_staff():
        return Log.objects.filter(event_type=event_type).count()


def refuse_changes_to(table: str) -> None:
    """Make `table` refuse UPDATE and DELETE for the rest of this (rolled-back) test."""
    run_sql(
        "CREATE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'refused by test'"
        "   USING DETAIL = 'Failing row contains ' || OLD::text; END $$"
    )
    run_sql(
        f"CREATE TRIGGER refuse BEFORE UPDATE OR DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION refuse_for_test()"
    )
