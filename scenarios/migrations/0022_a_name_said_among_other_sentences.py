# The name goal of the party and the new colleague, offline: "ich bin …" counted only as the
# whole message, so "Hallo Lena! Ich bin Cleo. Danke für die Einladung!" did not tick it (a
# newcomer's walk). It now counts as a sentence of its own, or after a greeting and a name,
# but not for what one is rather than who ("Ich bin müde", "Ich bin neu"). Only a pattern
# staff have not edited changes.

from django.db import migrations

SHIPPED = r"ich hei(ß|ss|s)e|mein name|^\W*((hallo|hi|hey)\W+)?ich bin \w+\W*(freut|$)"
NOT_A_NAME = (
    r"müde|muede|hier|da|fertig|gut|okay|ok|neu|krank|sicher|froh|satt|zufrieden|glücklich"
    r"|traurig|allein|sauer|bereit|student\w*|lehrer\w*|arzt|ärztin|nicht|so|auch|noch|schon"
)
NOW = (
    r"ich hei(?:ß|ss|s)e|mein name"
    r"|(?:^|[.!?,;]\s*)\W*(?:(?:hallo|hi|hey|guten (?:abend|tag|morgen))\W+(?:\w+\W+)?)?"
    rf"ich bin (?!(?:{NOT_A_NAME})\b)[^\W\d_]+(?:-[^\W\d_]+)?\s*(?:[.!?,;]|freut|und\b|$)"
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
    dependencies = [("scenarios", "0021_deleted_accounts_weeks_behind_their_functions")]

    operations = [migrations.RunPython(forward, backward)]
