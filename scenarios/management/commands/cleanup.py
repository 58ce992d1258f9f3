import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from accounts.rls import acting_as_staff
from eventlog.events import log_event
from eventlog.jobs import BatchedJob
from eventlog.models import Event
from eventlog.retention import count_old_logs, delete_old_logs_batch, retention_cutoff
from scenarios.expiry import (
    ExpiredSessions,
    count_expired_sessions,
    delete_expired_sessions_batch,
    expiry_cutoff,
)


class Command(BaseCommand):
    help = (
        "Delete incomplete sessions inactive for more than 7 days (with their messages) and "
        "logs older than 30 days, in short batches that never hold locks for long. Safe to run "
        "twice or concurrently. Writes a `cleanup_job_executed` log row with the counts, "
        "cutoffs, batches and duration; on failure a `database_error` row, and exits non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would go; change nothing."
        )
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--sessions-only", action="store_true", help="Leave the logs alone.")
        only.add_argument("--logs-only", action="store_true", help="Leave the sessions alone.")
        parser.add_argument(
            "--batch-size",
            type=_positive_int,
            default=500,
            help="Sessions per transaction (default 500).",
        )
        parser.add_argument(
            "--log-batch-size",
            type=_positive_int,
            default=5000,
            help="Log rows per transaction (default 5000).",
        )

    def handle(self, *args, dry_run: bool, sessions_only: bool, logs_only: bool, **options):
        self.progress = self.stdout.isatty()
        with acting_as_staff():
            session_cutoff, log_cutoff = expiry_cutoff(), retention_cutoff()
        do_sessions, do_logs = not logs_only, not sessions_only
        if dry_run:
            return self._dry_run(
                session_cutoff if do_sessions else None, log_cutoff if do_logs else None
            )

        job = BatchedJob("cleanup")
        sessions, deleted_logs, session_batches, log_batches = ExpiredSessions(), 0, 0, 0
        phase = "sessions"
        try:
            if do_sessions:
                limit = options["batch_size"]
                while True:
                    started = time.monotonic()
                    batch = delete_expired_sessions_batch(session_cutoff, limit)
                    if batch.sessions:
                        job.time_batch(started)
                        session_batches += 1
                        sessions.add(batch)
                        self._show(f"sessions: {sessions.sessions} deleted")
                    if batch.sessions < limit:
                        break
            phase = "logs"
            if do_logs:
                limit = options["log_batch_size"]
                while True:
                    started = time.monotonic()
                    deleted = delete_old_logs_batch(log_cutoff, limit)
                    if deleted:
                        job.time_batch(started)
                        log_batches += 1
                        deleted_logs += deleted
                        self._show(f"logs: {deleted_logs} deleted")
                    if deleted < limit:
                        break
        except DatabaseError as error:
            self._end_progress()
            job.log_failure(
                error,
                phase=phase,
                deleted_sessions=sessions.sessions,
                deleted_messages=sessions.messages,
                deleted_logs=deleted_logs,
            )
            raise CommandError(
                f"Cleanup failed while deleting {phase} after {job.batches} batches "
                f"({sessions.sessions} sessions, {deleted_logs} logs deleted): {error}".strip()
            ) from error
        self._end_progress()

        metadata = {
            **job.timings(),
            "session_cutoff": session_cutoff if do_sessions else None,
            "log_cutoff": log_cutoff if do_logs else None,
            "deleted_sessions": sessions.sessions if do_sessions else None,
            "deleted_messages": sessions.messages if do_sessions else None,
            "oldest_last_activity": sessions.oldest_last_activity,
            "newest_last_activity": sessions.newest_last_activity,
            "session_batches": session_batches,
            "session_batch_size": options["batch_size"],
            "deleted_logs": deleted_logs if do_logs else None,
            "log_batches": log_batches,
            "log_batch_size": options["log_batch_size"],
        }
        with acting_as_staff():
            log_event(Event.CLEANUP_JOB_EXECUTED, **metadata)

        parts = []
        if do_sessions:
            parts.append(
                f"{sessions.sessions} expired sessions ({sessions.messages} messages) "
                f"in {_plural(session_batches, 'batch')}"
            )
        if do_logs:
            parts.append(f"{deleted_logs} old logs in {_plural(log_batches, 'batch')}")
        return f"Deleted {' and '.join(parts)} in {job.duration_ms / 1000:.1f} s."

    def _dry_run(self, session_cutoff, log_cutoff) -> str:
        parts = []
        if session_cutoff is not None:
            expired = count_expired_sessions(session_cutoff)
            parts.append(
                f"{expired.sessions} expired sessions ({expired.messages} messages, "
                f"inactive since before {session_cutoff:%Y-%m-%d %H:%M} UTC)"
            )
        if log_cutoff is not None:
            parts.append(
                f"{count_old_logs(log_cutoff)} logs "
                f"(created before {log_cutoff:%Y-%m-%d %H:%M} UTC)"
            )
        return f"Dry run: would delete {' and '.join(parts)}; nothing changed."

    def _show(self, text: str) -> None:
        if self.progress:
            self.stdout.write(f"\r{text}", ending="")
            self.stdout.flush()

    def _end_progress(self) -> None:
        if self.progress:
            self.stdout.write("")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}es"
