# Offline, the character skips a line of its script that asks for a goal the learner has
# reached: it played its script one line a message, and asked for the kilo of tomatoes the
# learner had just ordered (the last note's left item). Staff say which lines ask for which
# goal; the shipped scenes' lines that ask are marked here where staff have not reworded them.

import django.contrib.postgres.fields
from django.db import migrations, models

# By scene: goal position → the script's lines (1 for the first) that ask for it, with the
# start of each line as shipped. Scenes whose character only answers (the flat viewing, the
# pharmacy) ask for nothing.
ASKED_IN = {
    "marketplace": {1: [(2, "Alles klar. Wie viel")], 3: [(8, "So, haben Sie noch")]},
    "party": {
        2: [(1, "Freut mich! Gib mir")],
        3: [(3, "Sag mal, woher")],
        4: [(6, "Interessant! Ich bin")],
    },
    "kebab": {
        2: [(3, "Und welche Soße")],
        3: [(5, "Geht klar. Zum Hieressen")],
        4: [(6, "Möchten Sie etwas dazu trinken?")],
    },
    "bakery": {
        2: [(2, "Alles klar, ich packe sie"), (3, "Wir haben Roggenbrot")],
        3: [(6, "Wie wäre es mit Kuchen")],
    },
    "doctor_phone": {
        2: [(1, "Gut, dass Sie anrufen.")],
        3: [(5, "Danke schön. Und wann sind Sie geboren?")],
        4: [(6, "Sind Sie gesetzlich oder privat")],
        5: [(8, "Alles klar. Ich kann Ihnen morgen")],
    },
    "train_ticket": {
        2: [(2, "Einen Moment, ich schaue nach.")],
        4: [(5, "Gut. Haben Sie eine BahnCard?")],
    },
    "buergeramt": {
        2: [(2, "Danke schön. Dann brauche ich")],
        3: [(3, "Einen Moment, bitte, ich gebe")],
    },
    "restaurant": {
        2: [(2, "So, bitte schön, hier ist die Speisekarte.")],
        3: [(3, "Sehr gern, die Getränke")],
        5: [(9, "Natürlich, ich komme sofort.")],
    },
    "new_colleague": {2: [(4, "Und in welchem Team")], 4: [(7, "Das freut mich! Was machst")]},
}


def mark_the_asking_lines(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    for code, goals in ASKED_IN.items():
        for goal in Goal.objects.filter(scenario__code=code, position__in=goals):
            script = goal.scenario.offline_lines
            goal.offline_asked_in = [
                number
                for number, start in goals[goal.position]
                if isinstance(script, list)
                and len(script) >= number
                and isinstance(script[number - 1], str)
                and script[number - 1].startswith(start)
            ]
            goal.save(update_fields=["offline_asked_in"])


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0014_german_in_tips_is_quoted")]

    operations = [
        migrations.AddField(
            model_name="goal",
            name="offline_asked_in",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.PositiveSmallIntegerField(),
                blank=True,
                default=list,
                help_text=(
                    "The offline script's lines (1 for its first) in which the character asks "
                    "for this goal, e.g. “2” or “2,3”; without an API key they are skipped once "
                    "the learner has reached it."
                ),
                size=None,
                verbose_name="asked for in offline lines",
            ),
        ),
        migrations.RunPython(mark_the_asking_lines, migrations.RunPython.noop),
    ]
