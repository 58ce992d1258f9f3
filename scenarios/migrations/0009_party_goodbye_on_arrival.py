# "Danke für die Einladung" is said on arriving at a party as much as on leaving: it no longer
# ticks Party's "say goodbye" goal offline. Only a pattern staff have not edited changes.

from django.db import migrations

SHIPPED = (
    "tsch[üu](ss|ß|s)|auf wiedersehen|wiedersehen|bis (bald|dann|sp[äa]ter|morgen|zum n[äa]chsten"
    "|n[äa]chste)|ciao|sch[öo]nen (abend|tag)|sch[öo]nes wochenende|servus|mach'?s gut"
    "|ich muss (jetzt |leider )*(los|gehen)|gute nacht"
)
ARRIVAL = "|danke f[üu]r die einladung"


def forward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code="party", offline_pattern=SHIPPED + ARRIVAL).update(
        offline_pattern=SHIPPED
    )


def backward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    Goal.objects.filter(scenario__code="party", offline_pattern=SHIPPED).update(
        offline_pattern=SHIPPED + ARRIVAL
    )


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0008_sessions_newest_first")]

    operations = [migrations.RunPython(forward, backward)]
