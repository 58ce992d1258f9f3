from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Now

from eventlog.events import Event, Level, event_choices
from lib.postgres import RandomUUIDPrimaryKey


class Log(models.Model):
    """An operational event: ids, counts and timings in `metadata`, never message content."""

    Level = Level
    Event = Event

    id = RandomUUIDPrimaryKey()
    level = models.CharField(max_length=8, choices=Level.choices)
    # The names are the app's (Event), checked by log_event(); a callable, so that a new
    # event needs no migration (seed #29).
    event_type = models.CharField(max_length=40, choices=event_choices)
    # Plain ids here: the foreign keys (ON DELETE SET NULL) are the database's (migration 0002),
    # so the event log knows no model of the apps that write to it.
    user_id = models.UUIDField(null=True, blank=True)
    session_id = models.UUIDField(null=True, blank=True)
    # The id of a session deleted since (or before) the event: write_log() and a trigger keep it
    # when the foreign key clears session_id (seed #24, #40), so staff still find the event.
    former_session_id = models.UUIDField(null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "logs"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(level__in=Level.values), name="logs_level_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["level"], name="idx_logs_level"),
            models.Index(fields=["event_type"], name="idx_logs_event_type"),
            models.Index(models.F("created_at").desc(), name="idx_logs_created_at"),
            models.Index("level", models.F("created_at").desc(), name="idx_logs_level_created"),
            # Session-specific log queries (seed #19); also serves ON DELETE SET NULL.
            models.Index(
                "session_id",
                models.F("created_at").desc(),
                name="idx_logs_session",
                condition=models.Q(session_id__isnull=False),
            ),
            # A learner's events (admin search) and ON DELETE SET NULL from profiles.
            models.Index(
                "user_id",
                models.F("created_at").desc(),
                name="idx_logs_user",
                condition=models.Q(user_id__isnull=False),
            ),
            # The admin's search by a deleted session's id.
            models.Index(
                "former_session_id",
                models.F("created_at").desc(),
                name="idx_logs_former_session",
                condition=models.Q(former_session_id__isnull=False),
            ),
            GinIndex(fields=["metadata"], name="idx_logs_metadata"),  # seed #23
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.event_type}"
