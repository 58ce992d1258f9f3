# An opening line becomes a message at every Start: it fits one (the admin's 2,000 characters),
# also when written outside the admin (one of 10,000 made every Start fail).

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scenarios", "0010_offline_scripts_fit_the_scene_length"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="scenario",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    django.db.models.lookups.LessThanOrEqual(
                        django.db.models.functions.text.Length("initial_message_main"), 2000
                    ),
                    django.db.models.lookups.LessThanOrEqual(
                        django.db.models.functions.text.Length("initial_message_helper"), 2000
                    ),
                ),
                name="scenarios_opening_lines_length_limit",
                violation_error_message="An opening line may be at most 2000 characters.",
            ),
        ),
    ]
