# A helper answer quotes its German in double quotes, and "Keep" offers each quotation as a
# German phrase (learning.deck.quoted_phrases): shipped offline tips quoted English that way
# too ("of", "Anything else?"), offered as German cards (a newcomer's walk). They quote their
# English in single quotes now; a tip staff have reworded keeps the rest of their words.

from django.db import migrations

LEFT, RIGHT = "\u2018", "\u2019"  # single quotation marks, not a German quotation's

# By scene, the English quoted in its tips.
ENGLISH = {
    "bakery": ["of", "Anything else?"],
    "kebab": ["With everything?", "To eat in or to take away?"],
    "marketplace": ["of", "Anything else?"],
    "party": ["a"],
    "pharmacy": ["against", "A", "for it"],
    "train_ticket": ["One way or return?"],
}


def _requoted(apps, old, new):
    Scenario = apps.get_model("scenarios", "Scenario")
    for code, quoted in ENGLISH.items():
        scene = Scenario.objects.filter(code=code).first()
        if not scene:
            continue
        tips = []
        for tip in scene.offline_tips:
            for english in quoted:
                tip = tip.replace(old(english), new(english))
            tips.append(tip)
        if tips != scene.offline_tips:
            scene.offline_tips = tips
            scene.save(update_fields=["offline_tips"])


def forward(apps, schema_editor):
    _requoted(apps, lambda text: f'"{text}"', lambda text: f"{LEFT}{text}{RIGHT}")


def backward(apps, schema_editor):
    _requoted(apps, lambda text: f"{LEFT}{text}{RIGHT}", lambda text: f'"{text}"')


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0012_goal_positions_checked_at_commit")]

    operations = [migrations.RunPython(forward, backward)]
