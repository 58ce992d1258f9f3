# Scenarios and sessions: foreign keys, triggers and row-level security.

from django.db import migrations

# The completion trigger's function, on its own: later migrations replace it, and their
# reverses bring this one back.
PROFILE_COUNTS = """
-- #9/#10: profile completion counts follow the sessions table. A completion counts on the
-- transition to completed only; a concurrent second UPDATE of the same row waits for the
-- first and then sees OLD.is_completed = true, so it counts nothing. The week rolls over here
-- too, so a completion after a missed weekly reset starts the new week at 1 (#2).
CREATE FUNCTION update_profile_completion_counts() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF TG_OP <> 'DELETE' AND NEW.is_completed AND (TG_OP = 'INSERT' OR NOT OLD.is_completed) THEN
    UPDATE profiles SET
      completed_scenario_count = completed_scenario_count + 1,
      current_week_completion_count = CASE
        WHEN week_reset_date <= NEW.completed_at THEN 1
        WHEN NEW.completed_at >= week_reset_date - interval '7 days'
          THEN current_week_completion_count + 1
        ELSE current_week_completion_count END,
      week_reset_date = CASE
        WHEN week_reset_date <= NEW.completed_at THEN next_week_start(NEW.completed_at)
        ELSE week_reset_date END
    WHERE id = NEW.user_id;
  ELSIF TG_OP = 'DELETE' AND OLD.is_completed THEN
    UPDATE profiles SET
      completed_scenario_count = greatest(completed_scenario_count - 1, 0),
      current_week_completion_count = CASE
        WHEN OLD.completed_at >= week_reset_date - interval '7 days'
         AND OLD.completed_at < week_reset_date
          THEN greatest(current_week_completion_count - 1, 0)
        ELSE current_week_completion_count END
    WHERE id = OLD.user_id;
  END IF;
  RETURN NULL;
END $$;
"""

FORWARD = (
    """
-- decision 10/#40: sessions go with their learner (CASCADE); a scenario that has sessions
-- cannot be deleted (RESTRICT: deactivate it instead).
ALTER TABLE sessions ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id)
  REFERENCES profiles (id) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE sessions ADD CONSTRAINT sessions_scenario_id_fkey FOREIGN KEY (scenario_id)
  REFERENCES scenarios (id) ON DELETE RESTRICT ON UPDATE CASCADE;

-- #38: scenarios.updated_at; decision 14: sessions.updated_at.
CREATE TRIGGER update_scenarios_updated_at BEFORE UPDATE ON scenarios
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_sessions_updated_at BEFORE UPDATE ON sessions
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- #1/decision 16: completing a session stamps completed_at (unless given) and computes the
-- duration once; #10: a completed session cannot be reopened.
CREATE FUNCTION calculate_session_duration() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.is_completed AND NOT NEW.is_completed THEN
    RAISE EXCEPTION 'Session % is completed and cannot be reopened', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.is_completed AND (TG_OP = 'INSERT' OR NOT OLD.is_completed) THEN
    NEW.completed_at := coalesce(NEW.completed_at, statement_timestamp());
    NEW.duration_seconds := floor(extract(epoch FROM NEW.completed_at - NEW.started_at))::integer;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER calculate_session_duration BEFORE INSERT OR UPDATE ON sessions
  FOR EACH ROW EXECUTE FUNCTION calculate_session_duration();

"""
    + PROFILE_COUNTS
    + """ALTER FUNCTION update_profile_completion_counts() OWNER TO maraum_staff;
CREATE TRIGGER maintain_profile_counts AFTER INSERT OR UPDATE OF is_completed OR DELETE ON sessions
  FOR EACH ROW EXECUTE FUNCTION update_profile_completion_counts();

-- decision 6: row-level security on sessions, forced for the owning login role too.
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
-- A learner reads all of their sessions, history included.
CREATE POLICY sessions_select_own ON sessions FOR SELECT TO maraum_learner
  USING (user_id = current_learner_id());
-- ...starts sessions for themselves only, never already completed.
CREATE POLICY sessions_insert_own ON sessions FOR INSERT TO maraum_learner
  WITH CHECK (user_id = current_learner_id() AND NOT is_completed);
-- ...changes and abandons only their active session; completed ones stay as history.
CREATE POLICY sessions_update_own_active ON sessions FOR UPDATE TO maraum_learner
  USING (user_id = current_learner_id() AND NOT is_completed)
  WITH CHECK (user_id = current_learner_id());
CREATE POLICY sessions_delete_own_active ON sessions FOR DELETE TO maraum_learner
  USING (user_id = current_learner_id() AND NOT is_completed);
-- Staff, ops and SECURITY DEFINER functions: every row, only while acting as maraum_staff.
CREATE POLICY sessions_staff_all ON sessions FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
-- Learners may only flip completion and touch activity; counts and timings are the triggers'.
REVOKE UPDATE ON sessions FROM maraum_learner;
GRANT UPDATE (is_completed, last_activity_at) ON sessions TO maraum_learner;

-- Scenarios are read-only to learners (plain privileges: they are not learner-owned rows).
REVOKE INSERT, UPDATE, DELETE ON scenarios FROM maraum_learner;
"""
)

REVERSE = """
GRANT INSERT, UPDATE, DELETE ON scenarios TO maraum_learner;
REVOKE UPDATE (is_completed, last_activity_at) ON sessions FROM maraum_learner;
GRANT UPDATE ON sessions TO maraum_learner;
DROP POLICY IF EXISTS sessions_staff_all ON sessions;
DROP POLICY IF EXISTS sessions_delete_own_active ON sessions;
DROP POLICY IF EXISTS sessions_update_own_active ON sessions;
DROP POLICY IF EXISTS sessions_insert_own ON sessions;
DROP POLICY IF EXISTS sessions_select_own ON sessions;
ALTER TABLE sessions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sessions DISABLE ROW LEVEL SECURITY;
DROP TRIGGER IF EXISTS maintain_profile_counts ON sessions;
DROP FUNCTION IF EXISTS update_profile_completion_counts();
DROP TRIGGER IF EXISTS calculate_session_duration ON sessions;
DROP FUNCTION IF EXISTS calculate_session_duration();
DROP TRIGGER IF EXISTS update_sessions_updated_at ON sessions;
DROP TRIGGER IF EXISTS update_scenarios_updated_at ON scenarios;
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_scenario_id_fkey;
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_user_id_fkey;
"""


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0001_initial"), ("accounts", "0002_profiles_sql")]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=REVERSE)]
