# Undo for a removed card: the card as it was, held in the database for its learner.

import django.db.models.functions.datetime
import lib.postgres
from django.db import migrations, models

FORWARD = """
-- A removed card's Undo goes with its learner.
ALTER TABLE deck_removed_cards ADD CONSTRAINT deck_removed_cards_user_id_fkey
  FOREIGN KEY (user_id) REFERENCES profiles (id) ON DELETE CASCADE ON UPDATE CASCADE;

-- decision 6: row-level security; a learner removes, puts back and forgets their own.
ALTER TABLE deck_removed_cards ENABLE ROW LEVEL SECURITY;
ALTER TABLE deck_removed_cards FORCE ROW LEVEL SECURITY;
CREATE POLICY deck_removed_cards_own ON deck_removed_cards FOR ALL TO maraum_learner
  USING (user_id = current_learner_id()) WITH CHECK (user_id = current_learner_id());
CREATE POLICY deck_removed_cards_staff_all ON deck_removed_cards FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
REVOKE ALL ON deck_removed_cards FROM maraum_learner;
GRANT SELECT, INSERT, DELETE ON deck_removed_cards TO maraum_learner;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_login_by_digest"),
        ("learning", "0005_examples_say_their_language"),
    ]

    operations = [
        migrations.CreateModel(
            name="RemovedCard",
            fields=[
                ("card_id", models.UUIDField(primary_key=True, serialize=False)),
                ("card", models.JSONField()),
                (
                    "removed_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                ("user", lib.postgres.DatabaseForeignKey(related_name="+", to="accounts.profile")),
            ],
            options={
                "db_table": "deck_removed_cards",
                "indexes": [
                    models.Index(fields=["user", "removed_at"], name="idx_deck_removed_cards")
                ],
            },
        ),
        migrations.RunSQL(FORWARD, migrations.RunSQL.noop),
    ]
