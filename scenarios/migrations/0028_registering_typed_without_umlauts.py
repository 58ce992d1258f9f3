# The Bürgeramt's register goal left out asking what it costs or for its proof, written with
# "ü" and "ä" only: a message is tried as typed too, and "Bekomme ich eine Bestaetigung?"
# said one wants to register (found by the admin's new warning, `left_out_one_way`). Only
# a pattern staff have not edited changes.

import importlib

from django.db import migrations

EARLIER = importlib.import_module("scenarios.migrations.0024_goals_by_what_learners_say")
NOW = EARLIER.REGISTER_NOW.replace("geb[üu]hr", "geb(?:ü|ue|u)hr").replace(
    "best[äa]tigung", "best(?:ä|ae|a)tigung"
)
assert NOW.count("(?:") == EARLIER.REGISTER_NOW.count("(?:") + 2, "0024's pattern changed"


def forward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code="buergeramt", offline_pattern=EARLIER.REGISTER_NOW).update(
        offline_pattern=NOW
    )


def backward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code="buergeramt", offline_pattern=NOW).update(
        offline_pattern=EARLIER.REGISTER_NOW
    )


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0027_a_yes_answers_the_lunch_invitation")]

    operations = [migrations.RunPython(forward, backward)]
