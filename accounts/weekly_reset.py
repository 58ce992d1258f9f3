"""The weekly limit reset (seed #2/#31/#32), batched: the same rule as `reset_weekly_limits()`.

Every profile whose week has ended moves to the next Monday 00:00 UTC (`next_week_start()`) in
one step, however many weeks were missed; its new count is what it already completed this week
(normally 0). Batches lock their rows with SKIP LOCKED and re-check the due condition, so a
second or concurrent run resets nothing twice.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from accounts.rls import acting_as_staff


@dataclass(frozen=True)
class ResetWindow:
    now: datetime
    week_start: datetime
    next_reset: datetime


def current_reset_window() -> ResetWindow:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT now(), next_week_start(now()) - interval '7 days', next_week_start(now())"
        )
        return ResetWindow(*cursor.fetchone())


def count_due_profiles(window: ResetWindow) -> tuple[int, datetime | None]:
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), min(week_reset_date) FROM profiles WHERE week_reset_date <= %s",
            [window.now],
        )
        return cursor.fetchone()


def reset_due_profiles_batch(window: ResetWindow, limit: int) -> tuple[int, datetime | None]:
    """Reset up to `limit` due profiles in one transaction: (how many, oldest missed reset)."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH due AS MATERIALIZED (  -- picked once (see scenarios/expiry.py)
              SELECT id, week_reset_date AS was FROM profiles
              WHERE week_reset_date <= %(now)s
              ORDER BY week_reset_date, id LIMIT %(limit)s
              FOR UPDATE SKIP LOCKED
            ), reset AS (
              UPDATE profiles p SET
                current_week_completion_count = (
                  SELECT count(*) FROM sessions s
                  WHERE s.user_id = p.id AND s.is_completed
                    AND s.completed_at >= %(week_start)s),
                week_reset_date = %(next_reset)s
              FROM due
              WHERE p.id = due.id AND p.week_reset_date <= %(now)s
              RETURNING due.was
            )
            SELECT count(*), min(was) FROM reset
            """,
            {
                "now": window.now,
                "week_start": window.week_start,
                "next_reset": window.next_reset,
                "limit": limit,
            },
        )
        return cursor.fetchone()
