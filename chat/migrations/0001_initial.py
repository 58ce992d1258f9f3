# Chat: the message enums and the messages table.

import lib.postgres
import django.db.models.deletion
import django.db.models.functions.datetime
import django.db.models.functions.text
import django.db.models.lookups
import django.contrib.postgres.functions
from django.db import migrations, models


ENUMS = """
-- #13: message roles and chat types as real enum types.
CREATE TYPE message_role AS ENUM ('user', 'scenario', 'helper');
CREATE TYPE chat_type AS ENUM ('main', 'helper');
"""

ENUMS_REVERSE = """
DROP TYPE IF EXISTS chat_type;
DROP TYPE IF EXISTS message_role;
"""


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0001_initial"),
        ("scenarios", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(ENUMS, reverse_sql=ENUMS_REVERSE),
        migrations.CreateModel(
            name="Message",
            fields=[
                (
                    "id",
                    lib.postgres.RandomUUIDPrimaryKey(),
                ),
                (
                    "role",
                    lib.postgres.PgEnumField(
                        choices=[("user", "User"), ("scenario", "Scenario"), ("helper", "Helper")],
                        enum_type="message_role",
                        max_length=16,
                    ),
                ),
                (
                    "chat_type",
                    lib.postgres.PgEnumField(
                        choices=[("main", "Main"), ("helper", "Helper")],
                        enum_type="chat_type",
                        max_length=16,
                    ),
                ),
                ("content", models.TextField()),
                (
                    "sent_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                ("client_message_id", models.UUIDField(blank=True, null=True)),
                (
                    "session",
                    lib.postgres.DatabaseForeignKey(
                        related_name="messages", to="scenarios.session"
                    ),
                ),
                (
                    "user",
                    lib.postgres.DatabaseForeignKey(
                        blank=True, null=True, related_name="+", to="accounts.profile"
                    ),
                ),
            ],
            options={
                "db_table": "messages",
                "indexes": [
                    models.Index(
                        fields=["session", "sent_at", "id"], name="idx_messages_session_time_id"
                    ),
                    models.Index(fields=["user"], name="idx_messages_user"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("chat_type", "main"), ("role", "scenario")),
                            models.Q(("chat_type", "helper"), ("role", "helper")),
                            models.Q(("chat_type__in", ["main", "helper"]), ("role", "user")),
                            _connector="OR",
                        ),
                        name="messages_role_chat_type_valid",
                    ),
                    models.CheckConstraint(
                        condition=django.db.models.lookups.LessThanOrEqual(
                            django.db.models.functions.text.Length("content"), 8000
                        ),
                        name="messages_content_size_limit",
                    ),
                    models.CheckConstraint(
                        condition=django.db.models.lookups.GreaterThan(
                            django.db.models.functions.text.Length(
                                django.db.models.functions.text.Trim("content")
                            ),
                            0,
                        ),
                        name="messages_content_not_blank",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("client_message_id__isnull", False)),
                        fields=("session", "client_message_id"),
                        name="idx_messages_idempotency",
                    ),
                ],
            },
        ),
    ]
