# Scenes as data: what a scenario needs to play, its goals, and the level a session is played at.

import django.contrib.postgres.fields
import django.db.models.deletion
import scenarios.models
import django.core.validators
from django.db import migrations, models

FORWARD = """
-- Issue 12: goals are staff's to write and the learner's to read.
REVOKE ALL ON scenario_goals FROM maraum_learner;
GRANT SELECT ON scenario_goals TO maraum_learner;
"""

REVERSE = """
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_levels"),
        ("scenarios", "0005_one_week_rule"),
    ]

    operations = [
        migrations.CreateModel(
            name="Goal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "position",
                    models.PositiveSmallIntegerField(help_text="Goals are listed in this order."),
                ),
                (
                    "text",
                    models.CharField(help_text="For the learner, in English.", max_length=120),
                ),
                (
                    "offline_pattern",
                    models.CharField(
                        help_text="A regular expression (case-insensitive) a German learner message matches when it achieves this goal; used without an API key.",
                        max_length=400,
                        validators=[scenarios.models.validate_pattern],
                    ),
                ),
            ],
            options={
                "db_table": "scenario_goals",
                "ordering": ["scenario", "position"],
            },
        ),
        migrations.AddField(
            model_name="scenario",
            name="character_brief",
            field=models.TextField(
                blank=True,
                default="",
                help_text="The character's system prompt for this scene, in English: who they are, the setting (with prices and details), Sie or du, personality, the arc of the scene. The rules every character follows are added from prompts/character_rules.md.",
            ),
        ),
        migrations.AddField(
            model_name="scenario",
            name="character_name",
            field=models.CharField(
                blank=True, default="", help_text="Who the learner talks to.", max_length=80
            ),
        ),
        migrations.AddField(
            model_name="scenario",
            name="description",
            field=models.CharField(
                blank=True, default="", help_text="One line for the scene picker.", max_length=200
            ),
        ),
        migrations.AddField(
            model_name="scenario",
            name="offline_lines",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Without an API key the character says these German lines in order, one per learner message; the last one closes the scene.",
                verbose_name="offline script",
            ),
        ),
        migrations.AddField(
            model_name="scenario",
            name="offline_tips",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Without an API key the helper answers with these English tips, in turn.",
            ),
        ),
        migrations.AddField(
            model_name="scenario",
            name="suggested_levels",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("A1", "A1 · beginner"),
                        ("A2", "A2 · elementary"),
                        ("B1", "B1 · intermediate"),
                    ],
                    max_length=2,
                ),
                blank=True,
                default=list,
                help_text="The levels this scene suits best, shown in the picker.",
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="scenario",
            name="vocabulary",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text='Words for the scene: [{"german": "die Schale", "gloss": "punnet"}, …]',
            ),
        ),
        migrations.AddField(
            model_name="session",
            name="level",
            field=models.CharField(
                choices=[
                    ("A1", "A1 · beginner"),
                    ("A2", "A2 · elementary"),
                    ("B1", "B1 · intermediate"),
                ],
                db_default="A1",
                default="A1",
                max_length=2,
            ),
        ),
        migrations.AlterField(
            model_name="scenario",
            name="code",
            field=models.SlugField(help_text="Stable name, used in links.", max_length=32),
        ),
        migrations.AlterField(
            model_name="scenario",
            name="initial_message_helper",
            field=models.TextField(
                blank=True,
                help_text="The helper's opening line, in English.",
                validators=[django.core.validators.MaxLengthValidator(2000)],
                verbose_name="helper's opening line (English)",
            ),
        ),
        migrations.AlterField(
            model_name="scenario",
            name="initial_message_main",
            field=models.TextField(
                blank=True,
                help_text="The character's opening line, in German.",
                validators=[django.core.validators.MaxLengthValidator(2000)],
                verbose_name="opening line (German)",
            ),
        ),
        migrations.AddConstraint(
            model_name="session",
            constraint=models.CheckConstraint(
                condition=models.Q(("level__in", ["A1", "A2", "B1"])), name="sessions_level_valid"
            ),
        ),
        migrations.AddField(
            model_name="goal",
            name="scenario",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="goals",
                to="scenarios.scenario",
            ),
        ),
        migrations.AddConstraint(
            model_name="goal",
            constraint=models.UniqueConstraint(
                fields=("scenario", "position"),
                name="scenario_goals_position_unique",
                violation_error_message="Two goals have the same position.",
            ),
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
