# Whether the current learner ended and deleted a session: its address says so rather than
# "We couldn't find that page" (a newcomer's walk). Learners do not read logs (decision 6),
# so one question of their own, through a function that answers only of them.

from django.db import migrations

FORWARD = """
-- decision 6: a learner reads no log row; this answers yes or no of their own sessions only.
CREATE FUNCTION learner_ended_and_deleted(p_session uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT current_learner_id() IS NOT NULL AND EXISTS (
      SELECT 1 FROM logs
      WHERE former_session_id = p_session AND user_id = current_learner_id()
        AND event_type = 'scenario_abandoned')
  $$;
ALTER FUNCTION learner_ended_and_deleted(uuid) OWNER TO maraum_staff;
REVOKE EXECUTE ON FUNCTION learner_ended_and_deleted(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION learner_ended_and_deleted(uuid) TO maraum_learner;
"""

REVERSE = "DROP FUNCTION IF EXISTS learner_ended_and_deleted(uuid);"


class Migration(migrations.Migration):
    dependencies = [("eventlog", "0005_former_session_id")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
