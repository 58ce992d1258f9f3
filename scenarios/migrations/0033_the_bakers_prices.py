# Offline, "Was kostet das Brot?" mid-order was answered with the till: "Gut, das macht
# zusammen 9,60 Euro. Zahlen Sie bar oder mit Karte?", and the order went on after paying (a
# newcomer's walk). The baker's small talk about breakfast becomes her prices, which answer
# the price goal (and said in the script's order, point to them); where staff have not
# reworded the line nor marked another answer.

from django.db import migrations

LINE = 8
SMALL_TALK = "Sagen Sie mal, machen Sie heute ein schönes Frühstück?"
PRICES = (
    "Die Preise stehen hier an der Theke: die Brötchen kosten 45 Cent, ein Croissant "
    "1,30 Euro und das Roggenbrot 4,20 Euro."
)
TILL = 10


def forward(apps, schema_editor):
    _replace(apps, SMALL_TALK, PRICES, TILL, LINE)


def backward(apps, schema_editor):
    _replace(apps, PRICES, SMALL_TALK, LINE, TILL)


def _replace(apps, before, after, answered_before, answered_after):
    Scenario = apps.get_model("scenarios", "Scenario")
    for scene in Scenario.objects.filter(code="bakery"):
        script = scene.offline_lines
        if not (isinstance(script, list) and len(script) > TILL and script[LINE - 1] == before):
            continue
        price = scene.goals.filter(position=4, offline_answered_in=answered_before).first()
        if price is None or LINE in price.offline_asked_in:
            continue
        script[LINE - 1] = after
        scene.save(update_fields=["offline_lines"])
        price.offline_answered_in = answered_after
        price.save(update_fields=["offline_answered_in"])


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0032_asking_how_long_is_no_job")]

    operations = [migrations.RunPython(forward, backward)]
