# A helper answer's "Keep" takes only the German it quotes when it quotes any
# (learning.deck.german_of_answer): shipped offline tips left some German unquoted
# ("Döner im Brot", "Kaltmiete"), which Keep then refused as not German (the last note). They
# quote it now, glossed in brackets where the tip did not say what it means; a tip staff have
# reworded keeps the rest of their words.

from django.db import migrations

# By scene, the German its tips left unquoted: as shipped, and quoted.
UNQUOTED = {
    "buergeramt": [
        ("Most Bürgerämter only", 'Most "Bürgerämter" (citizens\' offices) only'),
    ],
    "flat_viewing": [
        ("months' Kaltmiete, and you", 'months\' "Kaltmiete", and you'),
        (
            "means 2 Zimmer, Küche, Bad.",
            'means "2 Zimmer, Küche, Bad" (2 rooms, kitchen, bathroom).',
        ),
    ],
    "kebab": [
        ("Döner is masculine (der Döner), and", 'It is "der Döner", masculine, and'),
        # A wrong form, quoted as English is: not offered to keep (a newcomer's recheck).
        (
            'You\'ll hear "mit alles" in the street',
            "You'll hear \u2018mit alles\u2019 in the street",
        ),
        ("Döner im Brot is served", '"Döner im Brot" is served'),
        ("a Dürüm is rolled", 'a "Dürüm" is rolled'),
        ("Falafel is the usual", '"Falafel" is the usual'),
        (
            "Sauces: Knoblauchsoße (garlic), Kräutersoße (herb), scharfe Soße (spicy).",
            'Sauces: "Knoblauchsoße" (garlic sauce), "Kräutersoße" (herb sauce), "scharfe Soße"'
            " (hot sauce).",
        ),
        ("Ayran is a cold", '"Ayran" is a cold'),
        ("goes well with Döner:", "goes well with a doner:"),
    ],
    "marketplace": [
        (
            "changes: kostet (singular) / kosten (plural).",
            'changes: "kostet" (singular) / "kosten" (plural).',
        ),
        (
            "Useful plurals: der Apfel → die Äpfel, die Tomate → die Tomaten, die Kartoffel → "
            "die Kartoffeln, die Erdbeere → die Erdbeeren, die Zwiebel → die Zwiebeln.",
            'Useful plurals: "der Apfel" → "die Äpfel", "die Tomate" → "die Tomaten", '
            '"die Kartoffel" → "die Kartoffeln", "die Erdbeere" → "die Erdbeeren", '
            '"die Zwiebel" → "die Zwiebeln".',
        ),
    ],
    "new_colleague": [
        ("Du or Sie at work?", '"Du" or "Sie" at work?'),
    ],
    "pharmacy": [
        ("come as an E-Rezept on", 'come as an "E-Rezept" (e-prescription) on'),
    ],
    "train_ticket": [
        (
            "A BahnCard is a discount card: the BahnCard 25 gives",
            'A "BahnCard" is a discount card: the "BahnCard 25" gives',
        ),
        (
            "Sparpreis or Flexpreis? The Sparpreis (saver fare) is cheaper",
            'Saver or flexible fare? The "Sparpreis" (saver fare) is cheaper',
        ),
        ("with the Flexpreis you can", 'with the "Flexpreis" (flexible fare) you can'),
        ("The Deutschlandticket is a monthly", 'The "Deutschlandticket" is a monthly'),
    ],
}


def _requoted(apps, backwards=False):
    Scenario = apps.get_model("scenarios", "Scenario")
    for code, changes in UNQUOTED.items():
        scene = Scenario.objects.filter(code=code).first()
        if not scene:
            continue
        tips = []
        for tip in scene.offline_tips:
            for shipped, quoted in changes:
                tip = tip.replace(quoted, shipped) if backwards else tip.replace(shipped, quoted)
            tips.append(tip)
        if tips != scene.offline_tips:
            scene.offline_tips = tips
            scene.save(update_fields=["offline_tips"])


def forward(apps, schema_editor):
    _requoted(apps)


def backward(apps, schema_editor):
    _requoted(apps, backwards=True)


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0013_english_in_tips_is_not_quoted_as_german")]

    operations = [migrations.RunPython(forward, backward)]
