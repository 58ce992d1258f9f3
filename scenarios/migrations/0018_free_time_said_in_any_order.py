# The free-time goal of the party and the new colleague, offline (the attacker's recheck of
# 0016): "Ich haette gern ein Wasser", "Ich will gern ein Bier" and "Ja, ich komme gern mit"
# still ticked it, and "Am Wochenende spiele ich gern Fußball", "Gern lese ich" and "Ich gehe
# am Wochenende gern wandern" did not. Only a pattern staff have not edited changes.

from django.db import migrations

SHIPPED = r"ich \w+ (\w+ )?gerne?\b|hobby|hobbys|hobbies|freizeit|ich mag"
BEFORE = (  # 0016's
    r"ich (?!h[äa]tte\b|m[öo]chte\b|w[üu]rde\b|nehme\b|trinke\b)\w+ (\w+ )?gerne?\b"
    r"|hobby|hobbys|hobbies|freizeit|ich mag"
)
# The verbs of ordering, wanting or accepting, kept out wherever "ich … gern" stands.
NOT_A_PASTIME = (
    r"h(?:ä|ae?)tte?|m(?:ö|oe?)chte|w(?:ü|ue?)rde|nehme?|trinke?|will|bestelle?|helfe|komme"
)
NOW = (
    rf"\bich (?!{NOT_A_PASTIME})\w+ (?:\w+ ){{0,3}}gerne?\b"
    rf"|\b(?!{NOT_A_PASTIME})\w+ ich (?:\w+ ){{0,2}}gerne?\b"
    rf"|\bgerne? (?!{NOT_A_PASTIME})\w+ ich\b"
    r"|hobb(?:y|ies)|freizeit|ich mag|ich liebe"
)
SCENES = ("party", "new_colleague")


def forward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code__in=SCENES, offline_pattern__in=[SHIPPED, BEFORE]).update(
        offline_pattern=NOW
    )


def backward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code__in=SCENES, offline_pattern=NOW).update(
        offline_pattern=BEFORE
    )


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0017_goals_say_when_they_were_added")]

    operations = [migrations.RunPython(forward, backward)]
