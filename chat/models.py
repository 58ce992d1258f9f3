from datetime import timedelta

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from accounts.models import Profile
from lib.postgres import DatabaseForeignKey, PgEnumField, RandomUUIDPrimaryKey
from scenarios.models import Goal, Session

MAX_CONTENT_LENGTH = 8000  # seed #15: the database's backstop; the chat allows far less


class Message(models.Model):
    """One complete, immutable chat message (seed fix #4: stored only when complete)."""

    class Role(models.TextChoices):
        USER = "user"
        SCENARIO = "scenario"  # the character, main chat only
        HELPER = "helper"  # the 間 helper, helper chat only

    class ChatType(models.TextChoices):
        MAIN = "main"  # the role-play, in German, with the character
        HELPER = "helper"  # the 間 helper, in English

    id = RandomUUIDPrimaryKey()
    session = DatabaseForeignKey(Session, related_name="messages")
    # Copied from the session by a trigger so row-level security needs no join (seed #18).
    user = DatabaseForeignKey(Profile, related_name="+", null=True, blank=True)
    role = PgEnumField(enum_type="message_role", choices=Role.choices)
    chat_type = PgEnumField(enum_type="chat_type", choices=ChatType.choices)
    content = models.TextField()
    sent_at = models.DateTimeField(db_default=Now())
    client_message_id = models.UUIDField(null=True, blank=True)

    class Meta:
        db_table = "messages"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="scenario", chat_type="main")
                | models.Q(role="helper", chat_type="helper")
                | models.Q(role="user", chat_type__in=["main", "helper"]),
                name="messages_role_chat_type_valid",
            ),
            models.CheckConstraint(
                condition=models.lookups.LessThanOrEqual(
                    models.functions.Length("content"), MAX_CONTENT_LENGTH
                ),
                name="messages_content_size_limit",
            ),
            models.CheckConstraint(
                condition=models.lookups.GreaterThan(
                    models.functions.Length(models.functions.Trim("content")), 0
                ),
                name="messages_content_not_blank",
            ),
            # Idempotent writes: a resent learner message is stored once (seed #46).
            models.UniqueConstraint(
                fields=["session", "client_message_id"],
                condition=models.Q(client_message_id__isnull=False),
                name="idx_messages_idempotency",
            ),
        ]
        indexes = [
            # Transcript order with a stable tie-break for keyset pagination (seed #21).
            models.Index(fields=["session", "sent_at", "id"], name="idx_messages_session_time_id"),
            # Cascades and row-level security by learner.
            models.Index(fields=["user"], name="idx_messages_user"),
        ]

    def __str__(self) -> str:
        return f"{self.sender}, {self.chat_type} chat"

    @property
    def sender(self) -> str:
        """Who wrote it, as staff read a transcript ("Scenario" named the character)."""
        return {"user": "Learner", "scenario": "Character", "helper": "Helper"}[self.role]

    @property
    def from_learner(self) -> bool:
        return self.role == self.Role.USER

    @classmethod
    def replier(cls, chat: str) -> str:
        """Who answers the learner in `chat`: the character in the main chat, else the helper."""
        return cls.Role.SCENARIO if chat == cls.ChatType.MAIN else cls.Role.HELPER


class ReplyClaim(models.Model):
    """A reply being written for one chat of a session, by one server process (`worker`).

    At most one per chat, across processes: whoever inserts the row may call the model. It is
    deleted when the reply is stored or has failed; a claim whose worker stopped renewing
    `heartbeat_at` belongs to a process that died mid-reply (an interrupted reply).
    """

    pk = models.CompositePrimaryKey("session", "chat_type")
    session = DatabaseForeignKey(Session, related_name="+")
    chat_type = PgEnumField(enum_type="chat_type", choices=Message.ChatType.choices)
    # Copied from the session by a trigger, as on messages, for row-level security.
    user = DatabaseForeignKey(Profile, related_name="+", null=True, blank=True)
    worker = models.CharField(max_length=100)
    claimed_at = models.DateTimeField(db_default=Now())
    heartbeat_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "reply_claims"
        indexes = [models.Index(fields=["worker"], name="idx_reply_claims_worker")]

    def __str__(self) -> str:
        return f"{self.chat_type} reply for {self.session_id} ({self.worker})"


class ReachedGoal(models.Model):
    """A goal of the scene the learner reached in a session, with the message that reached it.
    Stored once per goal and session; immutable, like messages."""

    pk = models.CompositePrimaryKey("session", "goal")
    session = DatabaseForeignKey(Session, related_name="reached_goals")
    goal = DatabaseForeignKey(Goal, related_name="+")
    message = DatabaseForeignKey(Message, related_name="+")
    # Copied from the session by a trigger, as on messages, for row-level security.
    user = DatabaseForeignKey(Profile, related_name="+", null=True, blank=True)
    reached_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "reached_goals"
        indexes = [models.Index(fields=["user"], name="idx_reached_goals_user")]

    def __str__(self) -> str:
        return f"goal {self.goal_id} in {self.session_id}"


class SceneReport(models.Model):
    """The report on a completed scene, one per session: requested (pending) when the scene
    completes, written by a background task (chat/tasks.py), then never changed."""

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    class Kind(models.TextChoices):
        MODEL = "model"  # written by the model from the transcript
        OFFLINE = "offline"  # built without a model: goals, words used, helper questions

    session = models.OneToOneField(
        Session,
        primary_key=True,
        on_delete=models.DO_NOTHING,  # ON DELETE CASCADE is in the database
        db_constraint=False,
        related_name="report",
    )
    # Copied from the session by a trigger, as on messages, for row-level security.
    user = DatabaseForeignKey(Profile, related_name="+", null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    kind = models.CharField(max_length=8, choices=Kind.choices, blank=True, default="")
    content = models.JSONField(null=True, blank=True)
    attempts = models.SmallIntegerField(default=0, db_default=0)
    requested_at = models.DateTimeField(db_default=Now())
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "scene_reports"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "ready", "failed"]),
                name="scene_reports_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status="ready", content__isnull=False)
                | ~models.Q(status="ready"),
                name="scene_reports_ready_has_content",
            ),
        ]
        indexes = [
            models.Index(fields=["user"], name="idx_scene_reports_user"),
            models.Index(
                fields=["requested_at"],
                name="idx_scene_reports_pending",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"report on {self.session_id} ({self.status})"

    # A report comes within seconds, a model's within half a minute; past this the learner is
    # told it is late, not left watching "being written" (a worker down: a newcomer's walk).
    LATE_AFTER = timedelta(minutes=1)

    @property
    def late(self) -> bool:
        return self.status == self.Status.PENDING and (
            self.requested_at < timezone.now() - self.LATE_AFTER
        )

    @property
    def words_offered(self) -> list[dict]:
        """Its words as its page offers them to keep (chat.reports.words_to_keep): what the
        history counts too (it counted the model's list, repeats and blanks included: the
        attacker's recheck)."""
        from chat.reports import words_to_keep  # (chat.reports reads this module)

        return words_to_keep(self.content)

    @property
    def used_no_words(self) -> bool:
        """An offline report of a scene that used none of its words but asked the helper: it
        promised "the scene's words you used" and showed none, without a word (a newcomer's
        walk)."""
        content = self.content or {}
        return (
            self.kind == self.Kind.OFFLINE
            and not content.get("words")
            and bool(content.get("questions"))
        )

    @property
    def found_nothing(self) -> bool:
        """An offline report of a scene that used none of its words and asked nothing: the
        page and the export say so, where its sections would be."""
        content = self.content or {}
        return (
            self.kind == self.Kind.OFFLINE
            and not content.get("words")
            and not content.get("questions")
        )
