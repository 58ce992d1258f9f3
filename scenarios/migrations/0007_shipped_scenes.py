# The shipped scenes as data (issue 12): the three seeded scenarios get their character, goals,
# vocabulary and offline script from scenarios/scenes/<code>.json, and eight more are added.
# After this, scenes are staff's to edit in the admin; the files are not read again.

import json
from pathlib import Path

from django.db import migrations

SCENES = Path(__file__).resolve().parent.parent / "scenes"


def ship_scenes(apps, schema_editor):
    Scenario = apps.get_model("scenarios", "Scenario")
    Goal = apps.get_model("scenarios", "Goal")
    for path in sorted(SCENES.glob("*.json")):
        scene = json.loads(path.read_text(encoding="utf-8"))
        scenario, _ = Scenario.objects.update_or_create(
            code=scene["code"],
            defaults={
                "title": scene["title"],
                "emoji": scene["emoji"],
                "sort_order": scene["sort_order"],
                "description": scene["description"],
                "character_name": scene["character_name"],
                "character_brief": scene["character_brief"],
                "initial_message_main": scene["opening_main"],
                "initial_message_helper": scene["opening_helper"],
                "suggested_levels": scene["suggested_levels"],
                "vocabulary": scene["vocabulary"],
                "offline_lines": scene["offline_lines"],
                "offline_tips": scene["offline_tips"],
            },
        )
        Goal.objects.filter(scenario=scenario).delete()
        Goal.objects.bulk_create(
            Goal(
                scenario=scenario,
                position=number,
                text=goal["text"],
                offline_pattern=goal["pattern"],
            )
            for number, goal in enumerate(scene["goals"], 1)
        )


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0006_scenes_as_data")]

    operations = [migrations.RunPython(ship_scenes, migrations.RunPython.noop)]
