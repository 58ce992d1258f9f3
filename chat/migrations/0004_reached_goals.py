# Reached goals: which goals of the scene a session reached, and with which message.

import django.db.models.functions.datetime
import lib.postgres
from django.db import migrations, models

FORWARD = """
-- A reached goal goes with its session, its learner, its goal and the message that reached it.
ALTER TABLE reached_goals ADD CONSTRAINT reached_goals_session_id_fkey FOREIGN KEY (session_id)
  REFERENCES sessions (id) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE reached_goals ADD CONSTRAINT reached_goals_user_id_fkey FOREIGN KEY (user_id)
  REFERENCES profiles (id) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE reached_goals ADD CONSTRAINT reached_goals_goal_id_fkey FOREIGN KEY (goal_id)
  REFERENCES scenario_goals (id) ON DELETE CASCADE;
ALTER TABLE reached_goals ADD CONSTRAINT reached_goals_message_id_fkey FOREIGN KEY (message_id)
  REFERENCES messages (id) ON DELETE CASCADE;
CREATE INDEX idx_reached_goals_goal ON reached_goals (goal_id);
CREATE INDEX idx_reached_goals_message ON reached_goals (message_id);
CREATE TRIGGER populate_user_id_on_insert BEFORE INSERT ON reached_goals
  FOR EACH ROW EXECUTE FUNCTION populate_message_user_id();
ALTER TABLE reached_goals ALTER COLUMN user_id SET NOT NULL;

-- Issue 12: a goal is reached by the learner's own main-chat message, in that session, and is
-- one of that session's scenario's goals.
CREATE FUNCTION check_reached_goal() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM messages m
    JOIN sessions s ON s.id = m.session_id
    JOIN scenario_goals g ON g.scenario_id = s.scenario_id
    WHERE m.id = NEW.message_id AND m.session_id = NEW.session_id
      AND m.role = 'user' AND m.chat_type = 'main' AND g.id = NEW.goal_id
  ) THEN
    RAISE EXCEPTION 'A goal is reached by a learner message of its own session and scenario'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'reached_goals_of_own_session';
  END IF;
  RETURN NEW;
END $$;
ALTER FUNCTION check_reached_goal() OWNER TO maraum_staff;
CREATE TRIGGER check_reached_goal BEFORE INSERT ON reached_goals
  FOR EACH ROW EXECUTE FUNCTION check_reached_goal();
REVOKE EXECUTE ON FUNCTION check_reached_goal() FROM PUBLIC;

-- decision 6: row-level security on reached goals, as on messages; learners add and read them,
-- never change or delete them.
ALTER TABLE reached_goals ENABLE ROW LEVEL SECURITY;
ALTER TABLE reached_goals FORCE ROW LEVEL SECURITY;
CREATE POLICY reached_goals_select_own ON reached_goals FOR SELECT TO maraum_learner
  USING (user_id = current_learner_id());
CREATE POLICY reached_goals_insert_own ON reached_goals FOR INSERT TO maraum_learner
  WITH CHECK (user_id = current_learner_id());
CREATE POLICY reached_goals_staff_all ON reached_goals FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
REVOKE ALL ON reached_goals FROM maraum_learner;
GRANT SELECT, INSERT ON reached_goals TO maraum_learner;
"""

REVERSE = """
DROP TRIGGER IF EXISTS check_reached_goal ON reached_goals;
DROP FUNCTION IF EXISTS check_reached_goal();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_levels"),
        ("chat", "0003_reply_claims"),
        ("scenarios", "0006_scenes_as_data"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReachedGoal",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "session",
                        "goal",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "reached_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                ("goal", lib.postgres.DatabaseForeignKey(related_name="+", to="scenarios.goal")),
                ("message", lib.postgres.DatabaseForeignKey(related_name="+", to="chat.message")),
                (
                    "session",
                    lib.postgres.DatabaseForeignKey(
                        related_name="reached_goals", to="scenarios.session"
                    ),
                ),
                (
                    "user",
                    lib.postgres.DatabaseForeignKey(
                        blank=True, null=True, related_name="+", to="accounts.profile"
                    ),
                ),
            ],
            options={
                "db_table": "reached_goals",
                "indexes": [models.Index(fields=["user"], name="idx_reached_goals_user")],
            },
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
