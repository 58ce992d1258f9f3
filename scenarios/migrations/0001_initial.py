# Scenarios and sessions tables (SQL rules follow in 0002).

import django.db.models.deletion
import django.db.models.functions.datetime
import django.db.models.lookups
import django.contrib.postgres.functions
from django.db import migrations, models

import lib.postgres


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0002_profiles_sql"),
    ]

    operations = [
        migrations.CreateModel(
            name="Scenario",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "code",
                    models.SlugField(
                        help_text="Stable name; prompts/<code>.md is its prompt.", max_length=32
                    ),
                ),
                ("title", models.CharField(max_length=100)),
                ("emoji", models.CharField(max_length=16)),
                (
                    "initial_message_main",
                    models.TextField(help_text="The character's opening line, in German."),
                ),
                (
                    "initial_message_helper",
                    models.TextField(help_text="The helper's opening line, in English."),
                ),
                ("is_active", models.BooleanField(db_default=True, default=True)),
                ("sort_order", models.SmallIntegerField(db_default=0, default=0)),
                (
                    "created_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "updated_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
            ],
            options={
                "db_table": "scenarios",
                "ordering": ["sort_order", "id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("code",),
                        name="scenarios_code_unique",
                        violation_error_message="Another scenario already has this code.",
                    ),
                    models.UniqueConstraint(
                        fields=("title",),
                        name="scenarios_title_unique",
                        violation_error_message="Another scenario already has this title.",
                    ),
                    models.CheckConstraint(
                        condition=django.db.models.lookups.LessThanOrEqual(
                            models.Func("emoji", function="octet_length"), 16
                        ),
                        name="scenarios_emoji_size_limit",
                        violation_error_message="The emoji may be at most 16 bytes.",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="Session",
            fields=[
                (
                    "id",
                    lib.postgres.RandomUUIDPrimaryKey(),
                ),
                ("is_completed", models.BooleanField(db_default=False, default=False)),
                (
                    "started_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "last_activity_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                ("completed_at", models.DateTimeField(blank=True, null=True)),
                ("message_count_main", models.IntegerField(db_default=0, default=0)),
                ("message_count_helper", models.IntegerField(db_default=0, default=0)),
                ("duration_seconds", models.IntegerField(blank=True, null=True)),
                (
                    "updated_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "scenario",
                    lib.postgres.DatabaseForeignKey(
                        related_name="sessions", to="scenarios.scenario"
                    ),
                ),
                (
                    "user",
                    lib.postgres.DatabaseForeignKey(related_name="sessions", to="accounts.profile"),
                ),
            ],
            options={
                "db_table": "sessions",
                "indexes": [
                    models.Index(
                        models.F("user"),
                        models.OrderBy(models.F("completed_at"), descending=True),
                        condition=models.Q(("is_completed", True)),
                        name="idx_sessions_history",
                    ),
                    models.Index(
                        models.F("user"),
                        models.F("scenario"),
                        models.OrderBy(models.F("completed_at"), descending=True),
                        condition=models.Q(("is_completed", True)),
                        name="idx_sessions_scenario_history",
                    ),
                    models.Index(
                        fields=["user", "scenario", "is_completed"],
                        name="idx_sessions_user_scenario",
                    ),
                    models.Index(fields=["scenario", "is_completed"], name="idx_sessions_scenario"),
                    models.Index(
                        condition=models.Q(("is_completed", False)),
                        fields=["last_activity_at"],
                        name="idx_sessions_expiry",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("is_completed", False)),
                        fields=("user",),
                        name="idx_sessions_one_active_per_user",
                        violation_error_message="You already have an active session.",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("completed_at__isnull", False), ("is_completed", True)),
                            models.Q(("completed_at__isnull", True), ("is_completed", False)),
                            _connector="OR",
                        ),
                        name="sessions_completed_has_timestamp",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("completed_at__isnull", True),
                            ("completed_at__gte", models.F("started_at")),
                            _connector="OR",
                        ),
                        name="sessions_completed_after_started",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("message_count_helper__gte", 0), ("message_count_main__gte", 0)
                        ),
                        name="sessions_message_counts_non_negative",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("duration_seconds__isnull", True),
                            ("duration_seconds__gte", 0),
                            _connector="OR",
                        ),
                        name="sessions_duration_non_negative",
                    ),
                ],
            },
        ),
    ]
