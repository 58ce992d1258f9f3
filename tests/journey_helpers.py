"""Helpers for the learner-journey tests (accounts and scenarios): logs and weekly counts."""

from datetime import UTC, datetime

from accounts.models import User
from eventlog.models import Log
from lib.rls import acting_as_staff
from tests.conftest import run_sql


def events_for(user: User) -> set[str]:
    """The event types logged about this learner (kept in metadata once the user is gone)."""
    with acting_as_staff():
        return set(Log.objects.filter(user_id=user.pk).values_list("event_type", flat=True)) | set(
            Log.objects.filter(metadata__user_id=str(user.pk)).values_list("event_type", flat=True)
        )


def all_log_text() -> str:
    """Every log row's metadata as one string, to prove content and emails never get there."""
    with acting_as_staff():
        return repr(list(Log.objects.values_list("event_type", "metadata")))


def set_week(user: User, *, completed: int, resets_at: datetime | None = None) -> None:
    """Give the learner `completed` scenes in their week, as real completed sessions (the
    counts follow the sessions table): this week's, or with `resets_at` in the past, those of
    a week that ended without a reset. Earlier completions move to the week before."""
    ended = resets_at is not None and resets_at <= datetime.now(UTC)
    with acting_as_staff():
        run_sql(
            "UPDATE sessions SET started_at = started_at - interval '7 days',"
            " completed_at = completed_at - interval '7 days'"
            " WHERE user_id = %(user)s AND is_completed"
            " AND completed_at >= next_week_start(now()) - interval '7 days';"
            "INSERT INTO sessions (user_id, scenario_id, is_completed, started_at, completed_at)"
            " SELECT %(user)s, (SELECT min(id) FROM scenarios), true, moment - interval '5 min',"
            "   moment"
            " FROM generate_series(1, %(completed)s),"
            "   (SELECT CASE WHEN %(ended)s"
            "      THEN next_week_start(now()) - interval '7 days 1 minute'"
            "      ELSE now() END AS moment) AS week;"
            "UPDATE profiles SET current_week_completion_count = %(completed)s,"
            " week_reset_date = coalesce(%(resets_at)s, next_week_start(now()))"
            " WHERE id = %(user)s",
            {"user": user.pk, "completed": completed, "ended": ended, "resets_at": resets_at},
        )
