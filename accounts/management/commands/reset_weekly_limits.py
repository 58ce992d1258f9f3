import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from accounts.rls import acting_as_staff
from accounts.weekly_reset import count_due_profiles, current_reset_window, reset_due_profiles_batch
from eventlog.events import log_event
from eventlog.jobs import BatchedJob
from eventlog.models import Event


class Command(BaseCommand):
    help = (
        "Reset the weekly completion limit of every learner whose week has ended: their week "
        "moves to the next Monday 00:00 UTC, however many weeks were missed. Batched, "
        "idempotent, safe to run concurrently. Writes a `weekly_limit_reset` log row with the "
        "count, the week, batches and duration; on failure a `database_error` row, and exits "
        "non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report who is due; change nothing."
        )
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="Profiles per transaction (default 1000)."
        )

    def handle(self, *args, dry_run: bool, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        progress = self.stdout.isatty()
        with acting_as_staff():
            window = current_reset_window()
        if dry_run:
            due, oldest = count_due_profiles(window)
            since = f", the oldest due since {oldest:%Y-%m-%d}" if oldest else ""
            return (
                f"Dry run: would reset {due} profiles to the week ending "
                f"{window.next_reset:%Y-%m-%d %H:%M} UTC{since}; nothing changed."
            )

        job = BatchedJob("reset_weekly_limits")
        reset, oldest_missed = 0, None
        try:
            while True:
                started = time.monotonic()
                count, oldest = reset_due_profiles_batch(window, batch_size)
                if count:
                    job.time_batch(started)
                    reset += count
                    oldest_missed = min(oldest_missed or oldest, oldest)
                    if progress:
                        self.stdout.write(f"\rprofiles: {reset} reset", ending="")
                        self.stdout.flush()
                if count < batch_size:
                    break
        except DatabaseError as error:
            job.log_failure(error, profiles_reset=reset, next_reset=window.next_reset)
            raise CommandError(
                f"Weekly reset failed after {job.batches} batches ({reset} profiles reset): "
                f"{error}".strip()
            ) from error
        finally:
            if progress:
                self.stdout.write("")

        with acting_as_staff():
            log_event(
                Event.WEEKLY_LIMIT_RESET,
                **job.timings(),
                profiles_reset=reset,
                week_start=window.week_start,
                next_reset=window.next_reset,
                oldest_missed_reset=oldest_missed,
                batch_size=batch_size,
            )
        return (
            f"Reset {reset} profiles to the week ending {window.next_reset:%Y-%m-%d %H:%M} UTC "
            f"in {job.batches} batches in {job.duration_ms / 1000:.1f} s."
        )
