"""Writing events to `logs`: ids, counts and timings only, never message content or emails."""

import json
from uuid import UUID

from django.db import connection, models


class Level(models.TextChoices):
    ERROR = "error"
    WARN = "warn"
    INFO = "info"
    DEBUG = "debug"


class Event(models.TextChoices):
    API_CALL_STARTED = "api_call_started"
    API_CALL_COMPLETED = "api_call_completed"
    API_CALL_FAILED = "api_call_failed"
    API_CALL_TIMEOUT = "api_call_timeout"
    API_RETRY_ATTEMPTED = "api_retry_attempted"
    REPLY_INTERRUPTED = "reply_interrupted"
    USER_REGISTERED = "user_registered"
    USER_LOGIN_SUCCESS = "user_login_success"
    USER_LOGIN_FAILED = "user_login_failed"
    USER_LOGOUT = "user_logout"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    PASSWORD_RESET_COMPLETED = "password_reset_completed"
    PASSWORD_CHANGED = "password_changed"
    ACCOUNT_DELETED = "account_deleted"
    SCENARIO_STARTED = "scenario_started"
    SCENARIO_COMPLETED = "scenario_completed"
    SCENARIO_ABANDONED = "scenario_abandoned"
    SESSION_CREATED = "session_created"
    SESSION_RESTORED = "session_restored"
    SESSION_EXPIRATION_CLEANUP = "session_expiration_cleanup"
    RATE_LIMIT_CHECKED = "rate_limit_checked"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    WEEKLY_LIMIT_REACHED = "weekly_limit_reached"
    WEEKLY_LIMIT_RESET = "weekly_limit_reset"
    DATABASE_ERROR = "database_error"
    CLEANUP_JOB_EXECUTED = "cleanup_job_executed"
    UNKNOWN_ERROR = "unknown_error"


def event_choices() -> list[tuple[str, str]]:
    return Event.choices


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
    that has just been deleted keeps its id in `former_session_id`. Only the events named in `Event`
    are written (ValueError for any other).
    """
    event, level = Event(event), Level(level)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT write_log(%s, %s, %s, %s, %s::jsonb)",
            [
                str(level),
                str(event),
                str(user_id) if user_id else None,
                str(session_id) if session_id else None,
                as_metadata(metadata),
            ],
        )


def as_metadata(metadata: dict) -> str | None:
    """An event's metadata as `write_log()` takes it (also from a statement that writes its own
    log row: chat/turns.py's)."""
    return json.dumps(metadata, default=str) if metadata else None
