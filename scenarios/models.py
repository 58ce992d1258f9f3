from datetime import timedelta

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.timesince import timesince

from accounts.models import Profile
from lib.postgres import DatabaseForeignKey, RandomUUIDPrimaryKey


class Scenario(models.Model):
    """One role-play the learner can pick. Prompts live in prompts/<code>.md, not here."""

    id = models.AutoField(primary_key=True)  # INTEGER, as in the seed
    code = models.SlugField(
        max_length=32,
        help_text=(
            "Stable name, used in links and for the prompt file prompts/CODE.md (CODE being "
            "this name). A scene without its own prompt plays a generic character."
        ),
    )
    title = models.CharField(max_length=100)
    emoji = models.CharField(max_length=16)
    initial_message_main = models.TextField(help_text="The character's opening line, in German.")
    initial_message_helper = models.TextField(help_text="The helper's opening line, in English.")
    is_active = models.BooleanField(default=True, db_default=True)
    sort_order = models.SmallIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "scenarios"
        ordering = ["sort_order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                name="scenarios_code_unique",
                violation_error_message="Another scenario already has this code.",
            ),
            models.UniqueConstraint(
                fields=["title"],
                name="scenarios_title_unique",
                violation_error_message="Another scenario already has this title.",
            ),
            models.CheckConstraint(
                condition=models.lookups.LessThanOrEqual(
                    models.Func("emoji", function="octet_length"), 16
                ),
                name="scenarios_emoji_size_limit",
                violation_error_message="The emoji may be at most 16 bytes.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} {self.title}"


class SessionQuerySet(models.QuerySet):
    """The ways sessions are looked up, so each reads the same everywhere."""

    def of(self, learner_id) -> "SessionQuerySet":
        # Row-level security hides other learners' sessions anyway; this says so in the query.
        return self.filter(user_id=learner_id)

    def active(self) -> "SessionQuerySet":
        return self.filter(is_completed=False)

    def completed(self) -> "SessionQuerySet":
        return self.filter(is_completed=True)

    def with_scenario(self) -> "SessionQuerySet":
        return self.select_related("scenario")


class Session(models.Model):
    """One attempt at a scenario. At most one incomplete session per learner (seed decision 5)."""

    id = RandomUUIDPrimaryKey()
    user = DatabaseForeignKey(Profile, related_name="sessions")
    scenario = DatabaseForeignKey(Scenario, related_name="sessions")
    is_completed = models.BooleanField(default=False, db_default=False)
    started_at = models.DateTimeField(db_default=Now())
    last_activity_at = models.DateTimeField(db_default=Now())
    completed_at = models.DateTimeField(null=True, blank=True)
    message_count_main = models.IntegerField(default=0, db_default=0)
    message_count_helper = models.IntegerField(default=0, db_default=0)
    duration_seconds = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(db_default=Now())

    objects = SessionQuerySet.as_manager()

    class Meta:
        db_table = "sessions"
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_completed=False),
                name="idx_sessions_one_active_per_user",
                violation_error_message="You already have an active session.",
            ),
            models.CheckConstraint(
                condition=models.Q(is_completed=True, completed_at__isnull=False)
                | models.Q(is_completed=False, completed_at__isnull=True),
                name="sessions_completed_has_timestamp",
            ),
            models.CheckConstraint(
                condition=models.Q(completed_at__isnull=True)
                | models.Q(completed_at__gte=models.F("started_at")),
                name="sessions_completed_after_started",
            ),
            models.CheckConstraint(
                condition=models.Q(message_count_main__gte=0, message_count_helper__gte=0),
                name="sessions_message_counts_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_seconds__isnull=True)
                | models.Q(duration_seconds__gte=0),
                name="sessions_duration_non_negative",
            ),
        ]
        indexes = [
            # History: a learner's completed sessions, newest first.
            models.Index(
                "user",
                models.F("completed_at").desc(),
                name="idx_sessions_history",
                condition=models.Q(is_completed=True),
            ),
            # History filtered by scenario (seed #20).
            models.Index(
                "user",
                "scenario",
                models.F("completed_at").desc(),
                name="idx_sessions_scenario_history",
                condition=models.Q(is_completed=True),
            ),
            # Per-learner analytics (seed #20); also serves FK look-ups by user_id.
            models.Index(
                fields=["user", "scenario", "is_completed"], name="idx_sessions_user_scenario"
            ),
            # Scenario analytics and the RESTRICT check on scenario delete (seed #41).
            models.Index(fields=["scenario", "is_completed"], name="idx_sessions_scenario"),
            # Expired-session cleanup: incomplete sessions by inactivity.
            models.Index(
                fields=["last_activity_at"],
                name="idx_sessions_expiry",
                condition=models.Q(is_completed=False),
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def started_label(self) -> str:
        """'just now', '5 minutes ago', '2 days ago': for the picker."""
        if timezone.now() - self.started_at < timedelta(minutes=1):
            return "just now"
        return f"{timesince(self.started_at)} ago"

    @property
    def duration_label(self) -> str:
        """How long the learner took, for history and transcripts ("" until completed)."""
        if self.duration_seconds is None:
            return ""
        if self.duration_seconds < 60:
            return "under a minute"
        return f"{round(self.duration_seconds / 60)} min"
