# Offline, "Nein, danke" to a line that asks for a goal passes over the lines that ask for it
# or answer it: to "Brauchen Sie auch ein Brot?" the baker went on with which breads there
# were and whether to cut the one not bought (the last note's left item). Her line that cuts
# the bread answers the bread goal, where staff have not reworded it or marked an answer.

import django.contrib.postgres.fields
from django.db import migrations, models

LINE = 4
START = "Gute Wahl. Soll ich Ihnen das Brot schneiden?"


def mark_the_cut(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    for goal in Goal.objects.filter(
        scenario__code="bakery", position=2, offline_answered_in=None
    ).select_related("scenario"):
        script = goal.scenario.offline_lines
        if isinstance(script, list) and LINE < len(script) and isinstance(script[LINE - 1], str):
            if script[LINE - 1].startswith(START) and LINE not in goal.offline_asked_in:
                goal.offline_answered_in = LINE
                goal.save(update_fields=["offline_answered_in"])


def unmark_the_cut(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code="bakery", position=2, offline_answered_in=LINE).update(
        offline_answered_in=None, offline_goes_on_after_answer=False
    )


class Migration(migrations.Migration):
    dependencies = [
        ("scenarios", "0030_take_away_and_one_way_said_otherwise"),
    ]

    operations = [
        migrations.RunPython(mark_the_cut, unmark_the_cut),
        migrations.AlterField(
            model_name="goal",
            name="offline_asked_in",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.PositiveSmallIntegerField(),
                blank=True,
                default=list,
                help_text="The offline script's lines (1 for its first) in which the character asks for this goal, e.g. “2” or “2,3”; without an API key they are skipped once the learner has reached it, and a bare yes (“Ja, gerne!”) to the last of them reaches it if that line ends with a yes-or-no question (“Kommst du mit?”); a bare no (“Nein, danke”) to one passes over them and the goal's answer line.",
                size=None,
                verbose_name="asked for in offline lines",
            ),
        ),
    ]
