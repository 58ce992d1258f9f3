"""Helpers for the learner-journey tests (accounts and scenarios): logs and weekly counts."""

from datetime import datetime

from accounts.models import User
from accounts.rls import acting_as_staff
from eventlog.models import Log
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
    """Set this week's completion count (as staff: the app itself never writes counts)."""
    with acting_as_staff():
        run_sql(
            "UPDATE profiles SET current_week_completion_count = %s,"
            " week_reset_date = coalesce(%s, week_reset_date) WHERE id = %s",
            [completed, resets_at, user.pk],
        )
