# Offline, "Was kostet das Brot?" bought the bread: the goals that order something were
# reached by asking what it costs (a newcomer's recheck). Their patterns now leave out a word
# after "was kostet", "wie viel kosten", "was macht" or "wie teuer" in the same sentence.
# Only patterns staff have not edited change.

from django.db import migrations

# Not after a price question in the same sentence (the regex module takes a lookbehind of any
# length).
ASKING_ITS_PRICE = r"(?<!\b(?:was|wie ?viel)\s+(?:kost|mach)\w*\b[^.!?]*|\bwie teuer\b[^.!?]*)"

SHIPPED = {
    ("bakery", 1): r"br(ö|oe?)tchen|semmel|schrippe|weck(en|le)?\b|rundst[üu]ck",
    ("bakery", 2): r"brot\b|\blaib",
    ("bakery", 3): r"kuchen|torte|strudel",
    ("kebab", 1): r"d(ö|oe?)ner|d(ü|ue?)r(ü|ue?)m|falafel|lahmacun",
    ("kebab", 4): r"ayran|cola|wasser|schorle|fanta|sprite|tee\b|trinken",
    ("marketplace", 1): r"kilo.*tomate|tomate.*kilo",
    ("restaurant", 2): r"wasser|schorle|bier|pils|wein\b|cola|saft|tee\b|kaffee|limo|spezi|radler",
    (
        "restaurant",
        3,
    ): r"schnitzel|braten|sp(ä|ae?)tzle|curry|salat|suppe|kn(ö|oe?)del|hauptgericht",
}


def not_when_asking_its_price(pattern: str) -> str:
    return f"{ASKING_ITS_PRICE}(?:{pattern})"


def forward(apps, schema_editor):
    _change(apps, lambda shipped: shipped, not_when_asking_its_price)


def backward(apps, schema_editor):
    _change(apps, not_when_asking_its_price, lambda shipped: shipped)


def _change(apps, before, after):
    Goal = apps.get_model("scenarios", "Goal")
    for (code, position), shipped in SHIPPED.items():
        Goal.objects.filter(
            scenario__code=code, position=position, offline_pattern=before(shipped)
        ).update(offline_pattern=after(shipped))


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0034_the_answer_waits")]

    operations = [migrations.RunPython(forward, backward)]
