# Offline goal patterns that missed what learners say, or took what they did not (a
# newcomer's walk): "Ja, gerne! Um wie viel Uhr?" did not accept Tobias's lunch invitation;
# "Wir zahlen zusammen." asked for the bill; "Was kostet die Anmeldung?" (and asking for the
# Meldebestätigung) said one wants to register; "Ich huste viel" described no symptom (in the
# doctor's and the pharmacy's scene). Only a pattern staff have not edited changes.

import importlib

from django.db import migrations

LUNCH_SHIPPED = (
    r"(komme|gehe|esse) (\w+ )?mit|bin dabei|gute idee|warum nicht|gerne? mit|leider"
    r"|keine zeit|heute nicht|n[äa]chste[ns]? mal"
)
# A yes with what it agrees to: a bare "Ja, gerne!" answers Tobias's coffee too.
LUNCH_NOW = (
    LUNCH_SHIPPED
    + r"|\b(?:gerne?|klar|okay|ok|super)\b[^.!?]{0,5}[.!?]?[^.!?]{0,20}"
    + r"\b(?:wann|wohin|wie ?viel uhr|kantine|mittag\w*|zw[öo]lf)\b"
)
BILL_SHIPPED = r"zahlen|rechnung"
# Paying, asked for: "Wir zahlen zusammen" answers how, after the bill was asked for.
BILL_NOW = (
    r"rechnung|(?:m[öo]chten?|w[üu]rden?|k[öo]nnen|kann|d[üu]rfen|darf|wollen|will|gerne?)"
    r" (?:\w+ ){0,2}(?:be)?zahlen\b|(?:be)?zahlen,? bitte|^\W*(?:be)?zahlen\W*$"
)
REGISTER_SHIPPED = r"meld|adresse|registrier|wohnsitz"
# In a sentence that does not ask what it costs or for its proof (the scene's other goals).
REGISTER_NOW = (
    r"(?:^|(?<=[.!?]))(?![^.!?]*(?:kost|geb[üu]hr|preis|zahlen|gratis|umsonst|best[äa]tigung"
    r"|bescheinigung|nachweis))[^.!?]*(?:meld|adresse|registrier|wohnsitz)"
)
SYMPTOMS_SHIPPED = (
    r"schmerz|weh\b|fieber|husten|schnupfen|erk[äa]lt|krank|grippe|[üu]bel|schwindel|ausschlag"
    r"|allergi|verletzt|beschwerden|hals|bauch|r[üu]cken|kopf|nase"
)
SYMPTOMS_NOW = (
    SYMPTOMS_SHIPPED.replace("husten", r"hust\w*")
    + r"|nies\w*|erbrech\w*|durchfall|juck\w*|m[üu]de|schwindlig|ersch[öo]pft"
    + r"|(?:mir geht'?s|mir geht es|ich f[üu]hle mich) (?:\w+ )?(?:nicht gut|schlecht)"
)
# The name goal's words that are no name, typed without umlauts too: each message is tried
# as typed and with "ae", "oe", "ue" read as umlauts, and "Ich bin Aerztin" slipped past an
# exclusion written "ärztin" (the attacker's recheck).
NAME_EARLIER = importlib.import_module(
    "scenarios.migrations.0022_a_name_said_among_other_sentences"
)
NAME_NOW = NAME_EARLIER.NOW
for umlaut, typed in (("ä", "ae"), ("ö", "oe"), ("ü", "ue")):
    NAME_NOW = NAME_NOW.replace(umlaut, f"(?:{umlaut}|{typed})")
# And a few more that are no name (a newcomer's recheck): "Französin", "Tierärztin",
# "Ingenieurin", typed either way.
for word, words in (
    ("arzt|(?:ä|ae)rztin", r"\p{L}*(?:a|ä|ae)rzt\w*"),
    (r"franzos\w*", r"franz(?:o|ö|oe)s\w*"),
    ("|eur|", "|eur|eurin|"),
):
    assert word in NAME_NOW, word
    NAME_NOW = NAME_NOW.replace(word, words)
CHANGES = [
    (("party", "new_colleague"), NAME_EARLIER.NOW, NAME_NOW),
    (("new_colleague",), LUNCH_SHIPPED, LUNCH_NOW),
    (("restaurant",), BILL_SHIPPED, BILL_NOW),
    (("buergeramt",), REGISTER_SHIPPED, REGISTER_NOW),
    (("doctor_phone", "pharmacy"), SYMPTOMS_SHIPPED, SYMPTOMS_NOW),
]


def forward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    for scenes, shipped, now in CHANGES:
        Goal.objects.filter(scenario__code__in=scenes, offline_pattern=shipped).update(
            offline_pattern=now
        )


def backward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    for scenes, shipped, now in CHANGES:
        Goal.objects.filter(scenario__code__in=scenes, offline_pattern=now).update(
            offline_pattern=shipped
        )


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0023_free_time_outdoors_or_at_home")]

    operations = [migrations.RunPython(forward, backward)]
