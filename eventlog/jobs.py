"""What the batched maintenance commands share: the cutoff by the database's clock, timing,
progress on a terminal and failure rows.

A job runs many short transactions (batches). It times each one, so the log row can say how long
the longest lock was held, and on failure writes an `error` row *after* the failed batch rolled
back, in a transaction of its own, so the failure is never lost with the batch (seed #45).
"""

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, connection

from eventlog.events import Event, Level, log_event
from lib.rls import acting_as_staff

Batch = TypeVar("Batch")


def older_than(age: timedelta) -> datetime:
    """The moment `age` ago by the database's clock, not this machine's: what is older goes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT now() - %s", [age])
        return cursor.fetchone()[0]


def positive_int(text: str) -> int:
    """An argparse type: a batch size of at least 1."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class BatchedCommand(BaseCommand):
    """A maintenance command that works in short batches: --dry-run, --batch-size, progress
    on a terminal."""

    dry_run_help = "Report what would change; change nothing."
    batch_of = "Rows"  # what a batch holds, for --batch-size's help
    batch_size = 1000

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help=self.dry_run_help)
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=self.batch_size,
            help=f"{self.batch_of} per transaction (default {self.batch_size}).",
        )

    def execute(self, *args, **options):
        self.progress = self.stdout.isatty()
        return super().execute(*args, **options)

    def show(self, text: str) -> None:
        if self.progress:
            self.stdout.write(f"\r{text}", ending="")
            self.stdout.flush()

    def end_progress(self) -> None:
        if self.progress:
            self.stdout.write("")


@dataclass
class BatchedJob:
    command: str
    job_id: uuid.UUID = field(default_factory=uuid.uuid4)
    batches: int = 0
    longest_batch_ms: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def repeat(
        self, batch: Callable[[int], Batch], limit: int, *, count: Callable[[Batch], int] = int
    ) -> Iterator[Batch]:
        """Run `batch(limit)` (one short transaction) until one does less than a full batch;
        yields each result that did something. `count` says how much a result did."""
        while True:
            started = time.monotonic()
            result = batch(limit)
            done = count(result)
            if done:
                self.batches += 1
                elapsed_ms = (time.monotonic() - started) * 1000
                self.longest_batch_ms = max(self.longest_batch_ms, elapsed_ms)
                yield result
            if done < limit:
                return

    @property
    def duration_ms(self) -> int:
        return round((time.monotonic() - self.started) * 1000)

    def timings(self) -> dict:
        return {
            "job_id": self.job_id,
            "command": self.command,
            "batches": self.batches,
            "longest_batch_ms": round(self.longest_batch_ms, 1),
            "duration_ms": self.duration_ms,
        }

    def log_failure(self, error: Exception, **metadata) -> None:
        """Record a failed run; call it outside the failed batch's (rolled-back) transaction."""
        cause = error.__cause__ if isinstance(error, DatabaseError) else None
        with acting_as_staff():
            log_event(
                Event.DATABASE_ERROR if isinstance(error, DatabaseError) else Event.UNKNOWN_ERROR,
                level=Level.ERROR,
                **self.timings(),
                sqlstate=getattr(cause, "sqlstate", None),
                error=_primary_message(error, cause),
                **metadata,
            )


def _primary_message(error: Exception, cause) -> str:
    """The error's first line only: PostgreSQL's DETAIL can quote a failing row (an email, say),
    and row data never goes into logs."""
    primary = getattr(getattr(cause, "diag", None), "message_primary", None)
    if primary:
        return primary[:500]
    lines = str(error).strip().splitlines()
    return lines[0][:500] if lines else ""
