# A finished scene keeps its goals' texts as they were when it was completed: staff rewording
# a goal rewrote every learner's history and transcripts with a goal they never had (a
# newcomer's walk). Completing a session copies them (the database, so every way of
# completing does); learners cannot write them (their UPDATE grant names two columns, and a
# session they start starts without: their INSERT took any value, which an active session's
# goals then showed, the attacker's recheck).

from django.db import migrations, models

SQL = """
-- Seed rule #3's history: a completed session keeps the goal texts it was played with.
CREATE FUNCTION keep_goals_as_played() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF NEW.is_completed AND (TG_OP = 'INSERT' OR NOT OLD.is_completed) THEN
    NEW.goals_played := (
      SELECT coalesce(jsonb_object_agg(g.id::text, g.text), '{}'::jsonb)
      FROM scenario_goals g WHERE g.scenario_id = NEW.scenario_id
    );
  ELSIF TG_OP = 'INSERT' THEN
    NEW.goals_played := NULL;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER keep_goals_as_played BEFORE INSERT OR UPDATE OF is_completed ON sessions
  FOR EACH ROW EXECUTE FUNCTION keep_goals_as_played();
-- A trigger's function is called by no one directly (decision 6: least privilege).
REVOKE EXECUTE ON FUNCTION keep_goals_as_played() FROM PUBLIC;

-- Sessions completed before: the goals they were shown then (those added later were not).
SET LOCAL ROLE maraum_staff;
UPDATE sessions s SET goals_played = (
  SELECT coalesce(jsonb_object_agg(g.id::text, g.text), '{}'::jsonb)
  FROM scenario_goals g WHERE g.scenario_id = s.scenario_id AND g.created_at <= s.completed_at
) WHERE s.is_completed AND s.goals_played IS NULL;
RESET ROLE;
"""

REVERSE = """
DROP TRIGGER IF EXISTS keep_goals_as_played ON sessions;
DROP FUNCTION IF EXISTS keep_goals_as_played();
"""


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0035_asking_a_price_buys_nothing")]

    operations = [
        migrations.AddField(
            model_name="session",
            name="goals_played",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.RunSQL(SQL, REVERSE),
    ]
