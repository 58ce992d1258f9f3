# "Ich hätte gern ein Wasser" ticked the party's free-time goal offline ("ich … gern"), and
# the new colleague's (a newcomer's walk): wanting, ordering or drinking something gladly is
# not what one likes doing. Only a pattern staff have not edited changes.

from django.db import migrations

SHIPPED = r"ich \w+ (\w+ )?gerne?\b|hobby|hobbys|hobbies|freizeit|ich mag"
NOW = (
    r"ich (?!h[äa]tte\b|m[öo]chte\b|w[üu]rde\b|nehme\b|trinke\b)\w+ (\w+ )?gerne?\b"
    r"|hobby|hobbys|hobbies|freizeit|ich mag"
)
SCENES = ("party", "new_colleague")


def forward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code__in=SCENES, offline_pattern=SHIPPED).update(
        offline_pattern=NOW
    )


def backward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code__in=SCENES, offline_pattern=NOW).update(
        offline_pattern=SHIPPED
    )


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0015_offline_lines_ask_for_goals")]

    operations = [migrations.RunPython(forward, backward)]
