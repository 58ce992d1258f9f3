# decision 17: the three scenarios, each with a stable code, sort order (#38) and openings.

from django.db import migrations

SCENARIOS = [
    {
        "code": "marketplace",
        "title": "Marketplace",
        "emoji": "🛒",
        "sort_order": 1,
        "initial_message_main": (
            "Guten Morgen! Heute habe ich ganz frisches Obst und Gemüse – was darf es sein?"
        ),
        "initial_message_helper": (
            "You're at a Saturday farmers' market at Frau Hoffmann's fruit and vegetable stall; "
            'use "Sie" with her. A good first phrase: "Ich hätte gern ein Kilo Tomaten." '
            "(I'd like a kilo of tomatoes.) Ask me anything: words, grammar, or what to say next."
        ),
    },
    {
        "code": "party",
        "title": "Party",
        "emoji": "🎉",
        "sort_order": 2,
        "initial_message_main": "Hallo, komm rein – schön, dass du da bist! Ich bin Lena, und wie heißt du?",
        "initial_message_helper": (
            "You've just arrived at Lena's housewarming party, and at a party like this everyone "
            'uses "du". Try: "Hallo, ich heiße … Freut mich!" (Hi, my name is … Nice to meet '
            "you!) Ask me anything: words, grammar, or what to say next."
        ),
    },
    {
        "code": "kebab",
        "title": "Kebab shop",
        "emoji": "🥙",
        "sort_order": 3,
        "initial_message_main": "Guten Abend, willkommen bei Murats Grill! Was darf es sein?",
        "initial_message_helper": (
            'You\'re at the counter of Murats Grill, a busy Döner shop; "Sie" is the safe choice '
            'with the owner. Try: "Einen Döner mit Hähnchen, bitte." (A chicken doner, please.) '
            "Ask me anything: words, grammar, or what to say next."
        ),
    },
]


def seed(apps, schema_editor):
    Scenario = apps.get_model("scenarios", "Scenario")
    for fields in SCENARIOS:
        Scenario.objects.update_or_create(code=fields["code"], defaults=fields)


def unseed(apps, schema_editor):
    Scenario = apps.get_model("scenarios", "Scenario")
    Scenario.objects.filter(code__in=[s["code"] for s in SCENARIOS]).delete()


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0002_sessions_sql")]

    operations = [migrations.RunPython(seed, unseed)]
