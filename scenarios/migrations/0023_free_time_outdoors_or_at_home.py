# The free-time goal of the party and the new colleague, offline: Lena asks "Bist du auch gern
# draußen, oder lieber zu Hause?", and "Ja, ich bin gern draußen." did not tick it (a
# newcomer's walk); 0019 named pastimes, not where one spends them. Being outdoors, in the
# country or at home by preference now counts, and a walk; "Ich bin gern hier" still does not.
# Only a pattern staff have not edited changes.

import importlib

from django.db import migrations

EARLIER = importlib.import_module("scenarios.migrations.0019_free_time_by_what_learners_do")
NOW = (
    EARLIER.NOW
    + r"|drau(?:ß|ss)en|in der natur|spazier\w*|(?:lieber|gerne?|am liebsten) (?:zu hause|daheim)"
    + r"|(?:zu hause|daheim) (?:\w+ ){0,2}(?:lieber|gerne?)\b"
)


def forward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(
        scenario__code__in=("party", "new_colleague"), offline_pattern=EARLIER.NOW
    ).update(offline_pattern=NOW)


def backward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code__in=("party", "new_colleague"), offline_pattern=NOW).update(
        offline_pattern=EARLIER.NOW
    )


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0022_a_name_said_among_other_sentences")]

    operations = [migrations.RunPython(forward, backward)]
