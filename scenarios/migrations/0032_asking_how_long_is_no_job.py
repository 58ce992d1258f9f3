# "Wie lange arbeitest du schon hier?" ticked "Say what your job is" as well as asking how
# long Tobias has worked there (the last note's left item): its "arbeite" took "arbeitest".
# Only a pattern staff have not edited changes.

from django.db import migrations

BEFORE = (
    r"arbeite|abteilung|team|job|\bstelle\b|beruf|zust[äa]ndig|marketing|vertrieb|buchhaltung"
    r"|personal|einkauf|controlling|entwickl|ingenieur|designer|praktik|werkstudent|\bals \w+"
)
AFTER = BEFORE.replace("arbeite|", r"arbeite\b|", 1)


def forward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code="new_colleague", position=2, offline_pattern=BEFORE).update(
        offline_pattern=AFTER
    )


def backward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code="new_colleague", position=2, offline_pattern=AFTER).update(
        offline_pattern=BEFORE
    )


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0031_the_bakers_bread_answered")]

    operations = [migrations.RunPython(forward, backward)]
