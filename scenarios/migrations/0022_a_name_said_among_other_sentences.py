# The name goal of the party and the new colleague, offline: "ich bin …" counted only as the
# whole message, so "Hallo Lena! Ich bin Cleo. Danke für die Einladung!" did not tick it (a
# newcomer's walk). It now counts as a sentence among others too, with the name written with
# its capital (what one is, "eingeladen", "gespannt", is not), and not a person's noun of
# the few a learner says at a party or a first day ("Ich bin Ingenieur": the attacker's
# recheck); "Ich bin's, Cleo", "Ich bin die Cleo" and "Ich bin Cleo aus Kanada" too. It starts
# where it may match only: tried after every mark, a run of 1,000 commas took 40 ms (the same
# recheck). Only a pattern staff have not edited changes.

from django.db import migrations, models

import scenarios.models

SHIPPED = r"ich hei(ß|ss|s)e|mein name|^\W*((hallo|hi|hey)\W+)?ich bin \w+\W*(freut|$)"
NOT_A_NAME = (
    r"single|gast|fan|mann|frau|koch|köchin|pole|polin|neue\w*|student\w*|lehrer\w*|arzt|ärztin"
    r"|deutsche\w*|veganer\w*|kolleg\w*|nachbar\w*|freund\w*|mitarbeiter\w*|praktikant\w*"
    r"|entwickler\w*|anfänger\w*|franzos\w*|türk\w*|chines\w*|designer|verkäufer|mutter|vater"
    r"|(?:dein|ihr|sein|mein|unser|euer)\w*"
    # A job's or a country's ending, which first names rarely have ("Informatiker",
    # "Programmiererin", "Ingenieur", "Kanadier", "Amerikaner", "Berliner", "Österreicher").
    r"|\p{L}+(?:iker|ierer|eur|ist|ant|ler|erin|ier|ierin|aner|anerin|länder|iner|reicher)"
)
NAME = r"(?-i:\p{Lu})\p{L}*(?:['’-]\p{L}+)?"
# The name with its capital: "ich bin müde" is what one is (and a name in lower case, the
# whole message, ticked "Ich bin hungrig": a newcomer's recheck); then the sentence ends, or
# goes on.
NOW = (
    r"ich hei(?:ß|ss|s)e|mein name|ich bin'?s,? "
    + NAME
    + r"|(?:^\W*+(?:(?:hallo|hi|hey|servus|moin|guten (?:abend|morgen|tag))\W+(?:\p{L}+\W+)?)?"
    + r"|(?<=[.!?,;])\s*+)(?:und |ja,? |also )?ich bin (?:übrigens |die |der )?"
    + rf"(?!(?:{NOT_A_NAME})\b){NAME}(?: {NAME})?\s*(?:[.!?,;:)–-]|freut|und\b|aus\b|\W*$)"
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

    operations = [
        migrations.AlterField(
            model_name="goal",
            name="offline_pattern",
            field=models.CharField(
                help_text=(
                    "A regular expression (case-insensitive) a German learner message matches"
                    " when it achieves this goal; used without an API key."
                ),
                max_length=1000,
                validators=[scenarios.models.validate_pattern],
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
