"""Bookkeeping shared by the batched maintenance commands: timing, progress and failure rows.

A job runs many short transactions (batches). It times each one, so the log row can say how long
the longest lock was held, and on failure writes an `error` row *after* the failed batch rolled
back, in a transaction of its own, so the failure is never lost with the batch (seed #45).
"""

import time
import uuid
from dataclasses import dataclass, field

from django.db import DatabaseError

from accounts.rls import acting_as_staff
from eventlog.events import log_event
from eventlog.models import Event, Level


@dataclass
class BatchedJob:
    command: str
    job_id: uuid.UUID = field(default_factory=uuid.uuid4)
    batches: int = 0
    longest_batch_ms: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def time_batch(self, started: float) -> None:
        self.batches += 1
        self.longest_batch_ms = max(self.longest_batch_ms, (time.monotonic() - started) * 1000)

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
