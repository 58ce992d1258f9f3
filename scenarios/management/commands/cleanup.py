from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError
from django.template.defaultfilters import pluralize

from accounts.logins import count_expired_logins, delete_expired_logins
from eventlog.events import Event, log_event
from eventlog.jobs import BatchedCommand, BatchedJob, older_than, positive_int
from eventlog.retention import (
    LOG_RETENTION,
    count_old_logs,
    delete_old_logs_batch,
    drop_expired_log_months,
    make_coming_log_months,
)
from lib.rls import acting_as_staff
from lib.task_queue import count_finished_tasks, prune_finished_tasks
from lib.throttles import count_idle_buckets, prune_idle_buckets
from scenarios import lifecycle


class Command(BatchedCommand):
    help = (
        "Delete incomplete sessions inactive for more than 7 days (with their messages) and "
        "logs older than 30 days (and the rows of background tasks finished over 7 days ago, and "
        "expired logins), "
        "in short batches that never hold locks for long. Safe to run "
        "twice or concurrently. Writes a `cleanup_job_executed` log row with the counts, "
        "cutoffs, batches and duration; on failure a `database_error` row, and exits non-zero."
    )

    dry_run_help = "Report what would go; change nothing."
    batch_of, batch_size = "Sessions", 500

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--sessions-only", action="store_true", help="Leave the logs alone.")
        only.add_argument("--logs-only", action="store_true", help="Leave the sessions alone.")
        parser.add_argument(
            "--log-batch-size",
            type=positive_int,
            default=5000,
            help="Log rows per transaction (default 5000).",
        )

    def handle(self, *args, dry_run: bool, sessions_only: bool, logs_only: bool, **options):
        with acting_as_staff():
            session_cutoff = older_than(lifecycle.SESSION_EXPIRY)
            log_cutoff = older_than(LOG_RETENTION)
        do_sessions, do_logs = not logs_only, not sessions_only
        if dry_run:
            return self._dry_run(
                session_cutoff if do_sessions else None, log_cutoff if do_logs else None
            )

        job = BatchedJob("cleanup")
        sessions, deleted_logs = lifecycle.ExpiredSessions(), 0
        session_batches = log_batches = dropped_months = 0
        pruned_buckets = pruned_tasks = expired_logins = None
        phase = "sessions"
        try:
            if do_sessions:
                for batch in job.repeat(
                    lambda limit: lifecycle.expire_sessions(session_cutoff, limit),
                    options["batch_size"],
                    count=lambda batch: batch.sessions,
                ):
                    session_batches += 1
                    sessions.add(batch)
                    self.show(f"sessions: {sessions.sessions} deleted")
            phase = "logs"
            if do_logs:
                dropped_months = drop_expired_log_months(log_cutoff)
                for deleted in job.repeat(
                    lambda limit: delete_old_logs_batch(log_cutoff, limit),
                    options["log_batch_size"],
                ):
                    log_batches += 1
                    deleted_logs += deleted
                    self.show(f"logs: {deleted_logs} deleted")
                make_coming_log_months()
                pruned_buckets = prune_idle_buckets()
                pruned_tasks = prune_finished_tasks()
                expired_logins = delete_expired_logins()
        except DatabaseError as error:
            self.end_progress()
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
        self.end_progress()

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
            "dropped_log_months": dropped_months if do_logs else None,
            "log_batches": log_batches,
            "log_batch_size": options["log_batch_size"],
            "deleted_throttle_buckets": pruned_buckets,
            "deleted_task_results": pruned_tasks,
            "deleted_expired_logins": expired_logins,
        }
        with acting_as_staff():
            log_event(Event.CLEANUP_JOB_EXECUTED, **metadata)

        parts = []
        if do_sessions:
            parts.append(
                f"{sessions.sessions} expired sessions ({sessions.messages} messages) "
                f"in {session_batches} batch{pluralize(session_batches, 'es')}"
            )
        if do_logs:
            parts.append(
                f"{dropped_months} month{pluralize(dropped_months)} of old logs and "
                f"{deleted_logs} more old logs in {log_batches} batch{pluralize(log_batches, 'es')}"
                f" (and {pruned_buckets} idle throttle bucket{pluralize(pruned_buckets)},"
                f" {pruned_tasks} finished background task{pluralize(pruned_tasks)},"
                f" {expired_logins} expired login{pluralize(expired_logins)})"
            )
        return f"Deleted {' and '.join(parts)} in {job.duration_ms / 1000:.1f} s."

    def _dry_run(self, session_cutoff, log_cutoff) -> str:
        parts = []
        if session_cutoff is not None:
            expired = lifecycle.count_expired_sessions(session_cutoff)
            parts.append(
                f"{expired.sessions} expired sessions ({expired.messages} messages, "
                f"inactive since before {session_cutoff:%Y-%m-%d %H:%M} UTC)"
            )
        if log_cutoff is not None:
            buckets, tasks, logins = (
                count_idle_buckets(),
                count_finished_tasks(),
                count_expired_logins(),
            )
            parts.append(
                f"{count_old_logs(log_cutoff)} logs "
                f"(created before {log_cutoff:%Y-%m-%d %H:%M} UTC;"
                f" and {buckets} idle throttle bucket{pluralize(buckets)},"
                f" {tasks} finished background task{pluralize(tasks)},"
                f" {logins} expired login{pluralize(logins)})"
            )
        return f"Dry run: would delete {' and '.join(parts)}; nothing changed."
