"""The background task queue (django-tasks' database backend): what the app asks of it beyond
enqueueing, in one place."""

from datetime import timedelta

from django.db import connection

from lib.rls import acting_as_staff

FINISHED_KEPT_FOR = timedelta(days=7)  # a finished task's row, for staff to look into
_FINISHED_LONG_AGO = (
    "FROM django_tasks_database_dbtaskresult"
    " WHERE status IN ('SUCCESSFUL', 'FAILED') AND finished_at < now() - %s"
)


def prune_finished_tasks(batch_size: int = 5000) -> int:
    """Delete the rows of tasks that finished over FINISHED_KEPT_FOR ago, in batches; how many.
    Nothing else deleted them, and the look-ups of a waiting report or meanings task grew with
    them (150 ms at 1,000,000 rows: the recheck replay). The cleanup command calls this."""
    deleted = 0
    while True:
        with acting_as_staff(), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM django_tasks_database_dbtaskresult"  # noqa: S608
                f" WHERE id IN (SELECT id {_FINISHED_LONG_AGO} LIMIT %s)",
                [FINISHED_KEPT_FOR, batch_size],
            )
            deleted += cursor.rowcount
            if cursor.rowcount < batch_size:
                return deleted


def count_finished_tasks() -> int:
    """How many `prune_finished_tasks()` would delete (cleanup --dry-run)."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) {_FINISHED_LONG_AGO}", [FINISHED_KEPT_FOR])
        return cursor.fetchone()[0]


WAITING_TOO_LONG = timedelta(minutes=2)  # far past a worker's one-second poll: none is running


def count_waiting_too_long() -> int:
    """Tasks ready to run for over WAITING_TOO_LONG that no worker has taken: without a worker
    scene reports stayed "being written" and meanings never came (a newcomer's walk)."""
    from django.db.models import Q
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult, get_date_max

    since = timezone.now() - WAITING_TOO_LONG
    with acting_as_staff():
        waiting = DBTaskResult.objects.ready().filter(enqueued_at__lt=since)
        return waiting.filter(Q(run_after=get_date_max()) | Q(run_after__lt=since)).count()
