"""Writing events to `logs`: ids, counts and timings only, never message content or emails."""

import json
from uuid import UUID

from django.db import connection

from eventlog.models import Event, Level


def log_event(
    event: Event | str,
    *,
    level: Level | str = Level.INFO,
    user_id: UUID | str | None = None,
    session_id: UUID | str | None = None,
    **metadata,
) -> None:
    """Record an event through `write_log()`, the database's one door into `logs`.

    Works in any row-level security context (learner, staff or none); an event about a session
    that has just been deleted keeps its id in `metadata`.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT write_log(%s, %s, %s, %s, %s::jsonb)",
            [
                str(level),
                str(event),
                str(user_id) if user_id else None,
                str(session_id) if session_id else None,
                json.dumps(metadata, default=str) if metadata else None,
            ],
        )
