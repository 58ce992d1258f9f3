# A card kept without a meaning gets one later, written as its learner (chat.tasks.gloss_cards).

from django.db import migrations

FORWARD = """
-- decision 6: a learner's own card (row-level security) may get its meaning after it is kept.
GRANT UPDATE (gloss) ON deck_cards TO maraum_learner;
"""

REVERSE = "REVOKE UPDATE (gloss) ON deck_cards FROM maraum_learner;"


class Migration(migrations.Migration):
    dependencies = [("learning", "0001_deck")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
