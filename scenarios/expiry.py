"""Expired sessions: incomplete and idle for more than 7 days (decision 4, seed #32).

Deleted in bounded batches, each its own short transaction, so a large backlog never holds
locks for long; `FOR UPDATE SKIP LOCKED` lets two runs share the work instead of waiting on
(or deleting twice) the same rows. Their messages go with them (ON DELETE CASCADE).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from accounts.rls import acting_as_staff

SESSION_EXPIRY = timedelta(days=7)


@dataclass
class ExpiredSessions:
    sessions: int = 0
    messages: int = 0
    oldest_last_activity: datetime | None = None
    newest_last_activity: datetime | None = None

    def add(self, other: "ExpiredSessions") -> None:
        self.sessions += other.sessions
        self.messages += other.messages
        self.oldest_last_activity = _earliest(self.oldest_last_activity, other.oldest_last_activity)
        self.newest_last_activity = _latest(self.newest_last_activity, other.newest_last_activity)


def expiry_cutoff() -> datetime:
    """The database's clock, not this machine's, decides what is expired."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT now() - %s", [SESSION_EXPIRY])
        return cursor.fetchone()[0]


def count_expired_sessions(cutoff: datetime) -> ExpiredSessions:
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(message_count_main + message_count_helper), 0),"
            " min(last_activity_at), max(last_activity_at)"
            " FROM sessions WHERE NOT is_completed AND last_activity_at < %s",
            [cutoff],
        )
        return ExpiredSessions(*cursor.fetchone())


def delete_expired_sessions_batch(cutoff: datetime, limit: int) -> ExpiredSessions:
    """Delete up to `limit` expired sessions, oldest first, in one transaction."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            """
            -- MATERIALIZED: picked once. Inlined as a semi-join, the locking subquery could be
            -- re-scanned, skip the rows this statement already deleted and take the next ones,
            -- so the LIMIT would not bound the batch.
            WITH batch AS MATERIALIZED (
              SELECT id FROM sessions
              WHERE NOT is_completed AND last_activity_at < %(cutoff)s
              ORDER BY last_activity_at LIMIT %(limit)s
              FOR UPDATE SKIP LOCKED
            ), gone AS (
              DELETE FROM sessions s USING batch WHERE s.id = batch.id
              RETURNING s.last_activity_at,
                        s.message_count_main + s.message_count_helper AS messages
            )
            SELECT count(*), coalesce(sum(messages), 0), min(last_activity_at),
                   max(last_activity_at)
            FROM gone
            """,
            {"cutoff": cutoff, "limit": limit},
        )
        return ExpiredSessions(*cursor.fetchone())


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x is not None) if (a or b) else None
