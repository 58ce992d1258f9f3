# The free-time goal of the party and the new colleague, offline, by what one does in it (the
# attacker's second recheck of 0018): any "ich … gern" not ordering still ticked it ("Ich
# arbeite gern im Marketing", "Ich bin gern hier", "Ja, ich gehe gern mit"), and pastimes
# said without "gern" did not ("Ich spiele Fußball", "Ich mache Yoga", "Am liebsten lese
# ich"). It now names pastimes, not liking. Only a pattern staff have not edited changes.

import importlib

from django.db import migrations

EARLIER = importlib.import_module("scenarios.migrations.0018_free_time_said_in_any_order")
NOW = (
    r"hobb(?:y|ies)|freizeit|am liebsten|interessiere mich|\b(?:spiel\w*|lesen?|kochen?|backen?"
    r"|tanzen?|singen?|malen?|zeichne\w*|wander\w*|schwimm\w*|laufen?|joggen?|rad\w*|fahrrad"
    r"|reisen?|fotografier\w*|sport\w*|fu(?:ß|ss)ball|tennis|yoga|gitarre|klavier|musik|kino"
    r"|filme|serien|b(?:ü|ue)cher|garten|konzert\w*|theater|museum|gaming|zock\w*|kletter\w*"
    r"|angeln|strick\w*)\b"
)


def forward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(
        scenario__code__in=EARLIER.SCENES,
        offline_pattern__in=[EARLIER.SHIPPED, EARLIER.BEFORE, EARLIER.NOW],
    ).update(offline_pattern=NOW)


def backward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code__in=EARLIER.SCENES, offline_pattern=NOW).update(
        offline_pattern=EARLIER.NOW
    )


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0018_free_time_said_in_any_order")]

    operations = [migrations.RunPython(forward, backward)]
