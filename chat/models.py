import uuid

from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models.functions import Now

from accounts.models import Profile
from scenarios.models import Session

MAX_CONTENT_LENGTH = 8000  # seed #15: the database's backstop; the chat allows far less


class PgEnumField(models.CharField):
    """A column of a PostgreSQL ENUM type created by a migration (seed #13)."""

    def __init__(self, *args, enum_type: str, **kwargs):
        self.enum_type = enum_type
        kwargs.setdefault("max_length", 16)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["enum_type"] = self.enum_type
        return name, path, args, kwargs

    def db_type(self, connection):
        return self.enum_type


class Message(models.Model):
    """One complete, immutable chat message (seed fix #4: stored only when complete)."""

    class Role(models.TextChoices):
        USER = "user"
        SCENARIO = "scenario"  # the character, main chat only
        HELPER = "helper"  # the 間 helper, helper chat only

    class ChatType(models.TextChoices):
        MAIN = "main"
        HELPER = "helper"

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, db_default=RandomUUID(), editable=False
    )
    session = models.ForeignKey(
        Session,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="messages",
    )
    # Copied from the session by a trigger so row-level security needs no join (seed #18).
    user = models.ForeignKey(
        Profile,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        null=True,
        blank=True,
    )
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
        return f"{self.role}/{self.chat_type} {self.id}"
