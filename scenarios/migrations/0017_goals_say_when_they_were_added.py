# A goal staff add is not one of the scenes learners finished before: their history said "4 of
# 5 goals" and their transcript listed the new goal as not reached (a newcomer's walk). Goals
# now say when they were added; for those from before it is not known, and they stay goals of
# every session, as they were.

from django.db import migrations, models
from django.db.models.functions import Now

# The goals there were: older than any session (the history shows them as it did).
BACKFILL = "UPDATE scenario_goals SET created_at = '1970-01-01T00:00:00Z';"


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0016_ordering_a_drink_is_no_hobby")]

    operations = [
        migrations.AddField(
            model_name="goal",
            name="created_at",
            field=models.DateTimeField(db_default=Now()),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
