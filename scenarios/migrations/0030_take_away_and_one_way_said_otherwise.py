# Two goals missed ordinary answers (a newcomer's recheck): "Zur Mitnahme, bitte." said
# nothing of taking the döner away, and "Ich fahre nur hin." or "Nur die Hinfahrt." nothing
# of a single ticket. Only a pattern staff have not edited changes.

from django.db import migrations

CHANGES = {
    ("kebab", 3): ("mitnehm|hier ?ess|zum hier|to go", "mitnehm|mitnahme|hier ?ess|zum hier|to go"),
    ("train_ticket", 2): (
        "einfach|hin und zur[üu]ck|r[üu]ckfahr|hin- und r[üu]ck",
        r"einfach|hin und zur[üu]ck|r[üu]ckfahr|hin- und r[üu]ck|nur hin\b|hinfahrt",
    ),
}


def forward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    for (code, position), (before, after) in CHANGES.items():
        Goal.objects.filter(scenario__code=code, position=position, offline_pattern=before).update(
            offline_pattern=after
        )


def backward(apps, schema_editor):
    Goal = apps.get_model("scenarios", "Goal")
    for (code, position), (before, after) in CHANGES.items():
        Goal.objects.filter(scenario__code=code, position=position, offline_pattern=after).update(
            offline_pattern=before
        )


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0029_offline_answer_lines")]

    operations = [migrations.RunPython(forward, backward)]
