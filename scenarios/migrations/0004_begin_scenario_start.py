# The weekly limit's check at start: lock the learner's profile and roll an overdue week over.

from django.db import migrations

FORWARD = """
-- #2/decision 18: the weekly limit (checked by the app at start) must be race-safe: the
-- learner's profile row is locked FOR UPDATE so two concurrent starts queue one behind the
-- other, and an overdue week is reset lazily (count 0, next Monday 00:00 UTC). Learners only
-- have SELECT on profiles, hence SECURITY DEFINER, owned by maraum_staff, search_path pinned (#26).
CREATE FUNCTION begin_scenario_start()
  RETURNS TABLE (completions_this_week integer, week_resets_at timestamptz, week_was_reset boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_learner uuid := current_learner_id();
BEGIN
  IF v_learner IS NULL THEN
    RAISE EXCEPTION 'No learner is set for this transaction'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT p.current_week_completion_count, p.week_reset_date, false
    INTO completions_this_week, week_resets_at, week_was_reset
    FROM profiles p WHERE p.id = v_learner FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'No profile for learner %', v_learner USING ERRCODE = 'no_data_found';
  END IF;
  IF week_resets_at <= now() THEN
    UPDATE profiles SET current_week_completion_count = 0,
                        week_reset_date = next_week_start(now())
      WHERE id = v_learner
      RETURNING current_week_completion_count, week_reset_date
      INTO completions_this_week, week_resets_at;
    week_was_reset := true;
  END IF;
  RETURN NEXT;
END $$;
ALTER FUNCTION begin_scenario_start() OWNER TO maraum_staff;
-- decision 6: only the app's two roles may call it (it acts on the current learner only).
REVOKE EXECUTE ON FUNCTION begin_scenario_start() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION begin_scenario_start() TO maraum_learner, maraum_staff;
"""

REVERSE = """
DROP FUNCTION IF EXISTS begin_scenario_start();
"""


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0003_seed_scenarios")]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=REVERSE)]
