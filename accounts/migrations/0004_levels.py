# Levels: the learner's German (A1, A2, B1), which they may change themselves.

from django.db import migrations, models

FORWARD = """
-- Issue 12: a learner changes their own level, and nothing else of their profile.
GRANT UPDATE (level) ON profiles TO maraum_learner;
CREATE POLICY profiles_update_own_level ON profiles FOR UPDATE TO maraum_learner
  USING (id = current_learner_id()) WITH CHECK (id = current_learner_id());
"""

REVERSE = """
DROP POLICY IF EXISTS profiles_update_own_level ON profiles;
REVOKE UPDATE (level) ON profiles FROM maraum_learner;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_logins"),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="level",
            field=models.CharField(
                choices=[
                    ("A1", "A1 · beginner"),
                    ("A2", "A2 · elementary"),
                    ("B1", "B1 · intermediate"),
                ],
                db_default="A1",
                default="A1",
                max_length=2,
            ),
        ),
        migrations.AddConstraint(
            model_name="profile",
            constraint=models.CheckConstraint(
                condition=models.Q(("level__in", ["A1", "A2", "B1"])), name="profiles_level_valid"
            ),
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
