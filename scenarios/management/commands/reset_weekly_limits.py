from datetime import timedelta

from django.core.management.base import CommandError
from django.db import DatabaseError
from django.template.defaultfilters import pluralize

from eventlog.events import Event, log_event
from eventlog.jobs import BatchedCommand, BatchedJob
from lib.rls import acting_as_staff
from scenarios import lifecycle


class Command(BatchedCommand):
    help = (
        "Reset the weekly completion limit of every learner whose week has ended: their week "
        "moves to the next Monday 00:00 UTC, however many weeks were missed (the rule the "
        "database applies at every start and completion too: roll_week_over()). Batched, "
        "idempotent, safe to run concurrently. Then forgets the ended weeks of deleted "
        "accounts (kept so that a new account with the same email counts them). Writes a "
        "`weekly_limit_reset` log row with the count, the week, batches and duration; on "
        "failure a `database_error` row, and exits non-zero."
    )

    dry_run_help = "Report who is due; change nothing."
    batch_of, batch_size = "Profiles", 1000

    def handle(self, *args, dry_run: bool, batch_size: int, **options):
        with acting_as_staff():
            week_ends = lifecycle.week_ends()
        if dry_run:
            due, oldest = lifecycle.count_ended_weeks()
            since = f", the oldest due since {oldest:%Y-%m-%d}" if oldest else ""
            return (
                f"Dry run: would reset {due} profile{pluralize(due)} to the week ending "
                f"{week_ends:%Y-%m-%d %H:%M} UTC{since}; nothing changed."
            )

        job = BatchedJob("reset_weekly_limits")
        reset, oldest_missed = 0, None
        try:
            for count, oldest in job.repeat(
                lifecycle.roll_weeks_over, batch_size, count=lambda batch: batch[0]
            ):
                reset += count
                oldest_missed = min(oldest_missed or oldest, oldest)
                self.show(f"profiles: {reset} reset")
        except DatabaseError as error:
            job.log_failure(error, profiles_reset=reset, next_reset=week_ends)
            raise CommandError(
                f"Weekly reset failed after {job.batches} batch{pluralize(job.batches, 'es')} "
                f"({reset} profile{pluralize(reset)} reset): "
                f"{error}".strip()
            ) from error
        finally:
            self.end_progress()
        forgotten = lifecycle.forget_ended_weeks_of_deleted_accounts()

        with acting_as_staff():
            log_event(
                Event.WEEKLY_LIMIT_RESET,
                **job.timings(),
                profiles_reset=reset,
                week_start=week_ends - timedelta(days=7),
                next_reset=week_ends,
                oldest_missed_reset=oldest_missed,
                batch_size=batch_size,
                deleted_accounts_weeks_forgotten=forgotten,
            )
        return (
            f"Reset {reset} profile{pluralize(reset)} to the week ending "
            f"{week_ends:%Y-%m-%d %H:%M} UTC "
            f"in {job.batches} batch{pluralize(job.batches, 'es')} "
            f"in {job.duration_ms / 1000:.1f} s."
        )
