# The admin's sessions list reads its newest page from an index instead of sorting the whole
# table (seed review #33: the admin at 1,000,000 sessions).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_levels"),
        ("scenarios", "0007_shipped_scenes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="session",
            index=models.Index(
                models.OrderBy(models.F("started_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="idx_sessions_started",
            ),
        ),
    ]
