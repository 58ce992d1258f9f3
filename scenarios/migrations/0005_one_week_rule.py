# A session's rules in one place each: the week (learner_week() reads it, roll_week_over()
# moves an ended one on, for the completion trigger, the start and the weekly reset alike),
# one lock order for a learner's rows (their sessions before their profile), and least
# privilege on scenarios and sessions.

import importlib

from django.db import migrations, models


def _earlier(migration: str, sql: str) -> str:
    """An earlier migration's definition, to put back when this one is reversed."""
    text = getattr(importlib.import_module(f"scenarios.migrations.{migration}"), sql)
    return text.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


FORWARD = """
-- #9/#10/#2/decision 18: what a learner completed since a moment, from the sessions table
-- itself, so no count can drift. A week is Monday 00:00 UTC to the next (next_week_start()).
CREATE FUNCTION completions_since(p_user uuid, p_since timestamptz) RETURNS integer
  LANGUAGE sql STABLE SET search_path = public, pg_temp
  AS $$
  SELECT count(*)::integer FROM sessions
  WHERE user_id = p_user AND is_completed AND completed_at >= p_since
$$;

-- A learner's week as it stands now: the stored count while the week lasts; once it has
-- ended (no reset has run yet), what they completed since this Monday.
CREATE FUNCTION learner_week(p_user uuid, OUT completed integer, OUT resets_at timestamptz)
  LANGUAGE sql STABLE SET search_path = public, pg_temp
  AS $$
  SELECT CASE WHEN p.week_reset_date > now() THEN p.current_week_completion_count
              ELSE completions_since(p.id, next_week_start(now()) - interval '7 days') END,
         CASE WHEN p.week_reset_date > now() THEN p.week_reset_date
              ELSE next_week_start(now()) END
  FROM profiles p WHERE p.id = p_user
$$;

-- #2/#31: an ended week rolls over to the current one, however many weeks were missed; true
-- if it did. Re-checked under the row lock, so concurrent callers roll a week over once.
CREATE FUNCTION roll_week_over(p_user uuid) RETURNS boolean
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  UPDATE profiles p SET (current_week_completion_count, week_reset_date) =
    (SELECT w.completed, w.resets_at FROM learner_week(p.id) w)
  WHERE p.id = p_user AND p.week_reset_date <= now();
  RETURN FOUND;
END $$;

-- #9/#10: a profile's counts follow its sessions: when one is completed (the transition only:
-- a concurrent second UPDATE waits for the first and then finds it completed) or a completed
-- one is deleted, the learner's counts are recounted, the week's as of the current week.
CREATE OR REPLACE FUNCTION update_profile_completion_counts() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF (TG_OP = 'DELETE' AND OLD.is_completed)
     OR (TG_OP = 'INSERT' AND NEW.is_completed)
     OR (TG_OP = 'UPDATE' AND NEW.is_completed AND NOT OLD.is_completed) THEN
    UPDATE profiles SET
      completed_scenario_count = completions_since(id, '-infinity'),
      current_week_completion_count =
        completions_since(id, next_week_start(now()) - interval '7 days'),
      week_reset_date = next_week_start(now())
    WHERE id = coalesce(NEW.user_id, OLD.user_id);
  END IF;
  RETURN NULL;
END $$;

-- #2/decision 18 with one lock order: completing a session locks the session row and then,
-- through the count trigger, the profile; so a start (which may abandon the active session)
-- locks the active session first and the profile second, then rolls an ended week over.
CREATE OR REPLACE FUNCTION begin_scenario_start()
  RETURNS TABLE (completions_this_week integer, week_resets_at timestamptz, week_was_reset boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM 1 FROM sessions WHERE user_id = current_learner_id() AND NOT is_completed FOR UPDATE;
  PERFORM 1 FROM profiles WHERE id = current_learner_id() FOR UPDATE;
  IF NOT FOUND THEN  -- no learner set for this transaction, or no such profile
    RAISE EXCEPTION 'No learner to start for' USING ERRCODE = 'insufficient_privilege';
  END IF;
  week_was_reset := roll_week_over(current_learner_id());
  SELECT w.completed, w.resets_at INTO completions_this_week, week_resets_at
    FROM learner_week(current_learner_id()) w;
  RETURN NEXT;
END $$;

-- The same lock order when an account goes: the learner's sessions before the profile that
-- the cascade deletes first, so a reply completing a session meanwhile waits, never deadlocks.
CREATE FUNCTION lock_sessions_of_deleted_user() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM 1 FROM sessions WHERE user_id = OLD.id FOR UPDATE;
  RETURN OLD;
END $$;
ALTER FUNCTION lock_sessions_of_deleted_user() OWNER TO maraum_staff;
CREATE TRIGGER lock_sessions_before_user_delete BEFORE DELETE ON accounts_user
  FOR EACH ROW EXECUTE FUNCTION lock_sessions_of_deleted_user();


-- decision 6: learners read the scenarios; start, read, complete and abandon their own
-- sessions (the policies of 0002 say which rows).
REVOKE ALL ON scenarios, sessions FROM maraum_learner;
GRANT SELECT ON scenarios TO maraum_learner;
GRANT SELECT, INSERT, DELETE ON sessions TO maraum_learner;
GRANT UPDATE (is_completed, last_activity_at) ON sessions TO maraum_learner;
REVOKE EXECUTE ON FUNCTION calculate_session_duration(), update_profile_completion_counts(),
  begin_scenario_start(), completions_since(uuid, timestamptz), learner_week(uuid),
  roll_week_over(uuid), lock_sessions_of_deleted_user() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION completions_since(uuid, timestamptz), learner_week(uuid)
  TO maraum_learner, maraum_staff;
GRANT EXECUTE ON FUNCTION roll_week_over(uuid) TO maraum_staff;
"""

REVERSE = (
    """
GRANT INSERT, UPDATE, DELETE ON scenarios TO maraum_learner;
REVOKE INSERT, UPDATE, DELETE ON scenarios FROM maraum_learner;
DROP TRIGGER IF EXISTS lock_sessions_before_user_delete ON accounts_user;
DROP FUNCTION IF EXISTS lock_sessions_of_deleted_user();
"""
    + _earlier("0004_begin_scenario_start", "FORWARD")
    + _earlier("0002_sessions_sql", "PROFILE_COUNTS")
    + """
DROP FUNCTION IF EXISTS roll_week_over(uuid);
DROP FUNCTION IF EXISTS learner_week(uuid);
DROP FUNCTION IF EXISTS completions_since(uuid, timestamptz);
"""
)


class Migration(migrations.Migration):
    dependencies = [("scenarios", "0004_begin_scenario_start"), ("accounts", "0003_logins")]

    operations = [
        migrations.AlterField(
            model_name="scenario",
            name="code",
            field=models.SlugField(
                help_text=(
                    "Stable name, used in links and for the prompt file prompts/CODE.md (CODE "
                    "being this name). A scene without its own prompt plays a generic character."
                ),
                max_length=32,
            ),
        ),
        migrations.RunSQL(FORWARD, reverse_sql=REVERSE),
    ]
