# A card whose meaning the model is asked for says so until it comes (learning.deck).

from django.db import migrations, models

FORWARD = """
-- decision 6: a learner's own card (row-level security) is marked while its meaning is asked for.
GRANT UPDATE (meaning_asked_at) ON deck_cards TO maraum_learner;
"""

REVERSE = "REVOKE UPDATE (meaning_asked_at) ON deck_cards FROM maraum_learner;"


class Migration(migrations.Migration):
    dependencies = [("learning", "0002_learners_give_cards_meanings")]

    operations = [
        migrations.AddField(
            model_name="card",
            name="meaning_asked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
