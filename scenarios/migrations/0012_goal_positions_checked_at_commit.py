# Two goals may not share a position, checked at commit: the admin saves goals one by one,
# so two that swap places met mid-way (a 500).

import django.db.models.constraints
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scenarios", "0011_opening_lines_fit_a_message"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="goal",
            name="scenario_goals_position_unique",
        ),
        migrations.AddConstraint(
            model_name="goal",
            constraint=models.UniqueConstraint(
                deferrable=django.db.models.constraints.Deferrable["DEFERRED"],
                fields=("scenario", "position"),
                name="scenario_goals_position_unique",
                violation_error_message="Two goals have the same position.",
            ),
        ),
    ]
