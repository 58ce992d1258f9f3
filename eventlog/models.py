import uuid

from django.contrib.postgres.functions import RandomUUID
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Now

from accounts.models import Profile
from scenarios.models import Session


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
    USER_REGISTERED = "user_registered"
    USER_LOGIN_SUCCESS = "user_login_success"
    USER_LOGIN_FAILED = "user_login_failed"
    USER_LOGOUT = "user_logout"
    SESSION_EXPIRED = "session_expired"
    ACCOUNT_DELETED = "account_deleted"
    SCENARIO_STARTED = "scenario_started"
    SCENARIO_COMPLETED = "scenario_completed"
    SCENARIO_ABANDONED = "scenario_abandoned"
    SESSION_CREATED = "session_created"
    SESSION_RESTORED = "session_restored"
    SESSION_EXPIRATION_CLEANUP = "session_expiration_cleanup"
    RATE_LIMIT_CHECKED = "rate_limit_checked"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    WEEKLY_LIMIT_RESET = "weekly_limit_reset"
    DATABASE_ERROR = "database_error"
    CLEANUP_JOB_EXECUTED = "cleanup_job_executed"
    UNKNOWN_ERROR = "unknown_error"


class Log(models.Model):
    """An operational event: ids, counts and timings in `metadata`, never message content."""

    Level = Level
    Event = Event

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, db_default=RandomUUID(), editable=False
    )
    level = models.CharField(max_length=8, choices=Level.choices)
    event_type = models.CharField(max_length=40, choices=Event.choices)
    user = models.ForeignKey(
        Profile,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    session = models.ForeignKey(
        Session,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    metadata = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "logs"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(level__in=Level.values), name="logs_level_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(event_type__in=Event.values), name="logs_event_type_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["level"], name="idx_logs_level"),
            models.Index(fields=["event_type"], name="idx_logs_event_type"),
            models.Index(models.F("created_at").desc(), name="idx_logs_created_at"),
            models.Index("level", models.F("created_at").desc(), name="idx_logs_level_created"),
            # Session-specific log queries (seed #19); also serves ON DELETE SET NULL.
            models.Index(
                "session",
                models.F("created_at").desc(),
                name="idx_logs_session",
                condition=models.Q(session__isnull=False),
            ),
            # A learner's events (admin search) and ON DELETE SET NULL from profiles.
            models.Index(
                "user",
                models.F("created_at").desc(),
                name="idx_logs_user",
                condition=models.Q(user__isnull=False),
            ),
            GinIndex(fields=["metadata"], name="idx_logs_metadata"),  # seed #23
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.event_type}"
