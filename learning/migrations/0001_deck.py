# The review deck: the words a learner keeps, scheduled with FSRS.

import django.db.models.deletion
import django.db.models.functions.datetime
import django.db.models.functions.text
import django.db.models.lookups
import lib.postgres
from django.db import migrations, models

FORWARD = """
-- A card goes with its learner.
ALTER TABLE deck_cards ADD CONSTRAINT deck_cards_user_id_fkey FOREIGN KEY (user_id)
  REFERENCES profiles (id) ON DELETE CASCADE ON UPDATE CASCADE;

-- decision 6: row-level security on the deck; a learner keeps, reviews and removes their own.
ALTER TABLE deck_cards ENABLE ROW LEVEL SECURITY;
ALTER TABLE deck_cards FORCE ROW LEVEL SECURITY;
CREATE POLICY deck_cards_own ON deck_cards FOR ALL TO maraum_learner
  USING (user_id = current_learner_id()) WITH CHECK (user_id = current_learner_id());
CREATE POLICY deck_cards_staff_all ON deck_cards FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
REVOKE ALL ON deck_cards FROM maraum_learner;
GRANT SELECT, INSERT, DELETE ON deck_cards TO maraum_learner;
-- A review changes only the schedule.
GRANT UPDATE (due, fsrs, reviews) ON deck_cards TO maraum_learner;
"""


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0004_levels"),
        ("scenarios", "0007_shipped_scenes"),
    ]

    operations = [
        migrations.CreateModel(
            name="Card",
            fields=[
                ("id", lib.postgres.RandomUUIDPrimaryKey()),
                ("german", models.CharField(max_length=300)),
                ("gloss", models.CharField(blank=True, default="", max_length=300)),
                ("example", models.CharField(blank=True, default="", max_length=1000)),
                ("due", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ("fsrs", models.JSONField(blank=True, default=dict)),
                ("reviews", models.IntegerField(db_default=0, default=0)),
                (
                    "created_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "scenario",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="scenarios.scenario",
                    ),
                ),
                (
                    "user",
                    lib.postgres.DatabaseForeignKey(related_name="cards", to="accounts.profile"),
                ),
            ],
            options={
                "db_table": "deck_cards",
                "indexes": [models.Index(fields=["user", "due"], name="idx_deck_cards_due")],
                "constraints": [
                    models.UniqueConstraint(
                        models.F("user"),
                        django.db.models.functions.text.Lower("german"),
                        name="deck_cards_one_per_word",
                        violation_error_message="This is in your deck already.",
                    ),
                    models.CheckConstraint(
                        condition=django.db.models.lookups.GreaterThan(
                            django.db.models.functions.text.Length(
                                django.db.models.functions.text.Trim("german")
                            ),
                            0,
                        ),
                        name="deck_cards_german_not_blank",
                    ),
                ],
            },
        ),
        migrations.RunSQL(FORWARD, migrations.RunSQL.noop),
    ]
