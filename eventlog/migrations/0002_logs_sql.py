# Logs: foreign keys, row-level security, the write_log() door and the maintenance functions.

from django.db import migrations

FORWARD = """
-- #40: events outlive their learner and session; the reference is cleared, the row stays.
ALTER TABLE logs ADD CONSTRAINT logs_user_id_fkey FOREIGN KEY (user_id)
  REFERENCES profiles (id) ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE logs ADD CONSTRAINT logs_session_id_fkey FOREIGN KEY (session_id)
  REFERENCES sessions (id) ON DELETE SET NULL ON UPDATE CASCADE;

-- decision 6/#24: a learner reads their own events; only staff see the rest.
ALTER TABLE logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE logs FORCE ROW LEVEL SECURITY;
CREATE POLICY logs_select_own ON logs FOR SELECT TO maraum_learner
  USING (user_id = current_learner_id());
CREATE POLICY logs_staff_all ON logs FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
REVOKE INSERT, UPDATE, DELETE ON logs FROM maraum_learner;

-- #24: the one way the app writes an event, whoever it acts for. A user or session that no
-- longer exists (an abandoned session, a deleted account) moves into metadata instead of
-- failing the foreign key, so logging never breaks the action it records.
CREATE FUNCTION write_log(p_level text, p_event_type text, p_user_id uuid,
                          p_session_id uuid, p_metadata jsonb) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_id uuid;
BEGIN
  IF p_session_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sessions WHERE id = p_session_id) THEN
    p_metadata := coalesce(p_metadata, '{}'::jsonb) || jsonb_build_object('session_id', p_session_id);
    p_session_id := NULL;
  END IF;
  IF p_user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM profiles WHERE id = p_user_id) THEN
    p_user_id := NULL;
  END IF;
  INSERT INTO logs (level, event_type, user_id, session_id, metadata)
  VALUES (p_level, p_event_type, p_user_id, p_session_id, p_metadata)
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;
ALTER FUNCTION write_log(text, text, uuid, uuid, jsonb) OWNER TO maraum_staff;

-- decision 4/#32/#45: incomplete sessions idle for more than 7 days are deleted (their
-- messages cascade). Writes one log row with counts and the time window; on failure it writes
-- an error row and returns NULL instead of failing silently.
CREATE FUNCTION delete_expired_sessions() RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_started timestamptz := clock_timestamp();
  v_cutoff timestamptz := now() - interval '7 days';
  v_sessions integer;
  v_messages bigint;
  v_oldest timestamptz;
  v_newest timestamptz;
BEGIN
  WITH gone AS (
    DELETE FROM sessions WHERE NOT is_completed AND last_activity_at < v_cutoff
    RETURNING last_activity_at, message_count_main + message_count_helper AS messages
  )
  SELECT count(*), coalesce(sum(messages), 0), min(last_activity_at), max(last_activity_at)
    INTO v_sessions, v_messages, v_oldest, v_newest FROM gone;
  INSERT INTO logs (level, event_type, metadata) VALUES ('info', 'session_expiration_cleanup',
    jsonb_build_object('job_id', gen_random_uuid(), 'function', 'delete_expired_sessions',
      'deleted_sessions', v_sessions, 'deleted_messages', v_messages, 'cutoff', v_cutoff,
      'oldest_last_activity', v_oldest, 'newest_last_activity', v_newest,
      'duration_ms', round(extract(epoch FROM clock_timestamp() - v_started) * 1000)));
  RETURN v_sessions;
EXCEPTION WHEN OTHERS THEN
  INSERT INTO logs (level, event_type, metadata) VALUES ('error', 'database_error',
    jsonb_build_object('function', 'delete_expired_sessions', 'sqlstate', SQLSTATE,
                       'error', SQLERRM));
  RETURN NULL;
END $$;
ALTER FUNCTION delete_expired_sessions() OWNER TO maraum_staff;

-- decision 8/#32/#45: logs older than 30 days are deleted; same logging as above.
CREATE FUNCTION delete_old_logs() RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_started timestamptz := clock_timestamp();
  v_cutoff timestamptz := now() - interval '30 days';
  v_count integer;
  v_oldest timestamptz;
  v_newest timestamptz;
BEGIN
  WITH gone AS (DELETE FROM logs WHERE created_at < v_cutoff RETURNING created_at)
  SELECT count(*), min(created_at), max(created_at) INTO v_count, v_oldest, v_newest FROM gone;
  INSERT INTO logs (level, event_type, metadata) VALUES ('info', 'cleanup_job_executed',
    jsonb_build_object('job_id', gen_random_uuid(), 'function', 'delete_old_logs',
      'deleted_logs', v_count, 'cutoff', v_cutoff, 'oldest_deleted', v_oldest,
      'newest_deleted', v_newest,
      'duration_ms', round(extract(epoch FROM clock_timestamp() - v_started) * 1000)));
  RETURN v_count;
EXCEPTION WHEN OTHERS THEN
  INSERT INTO logs (level, event_type, metadata) VALUES ('error', 'database_error',
    jsonb_build_object('function', 'delete_old_logs', 'sqlstate', SQLSTATE, 'error', SQLERRM));
  RETURN NULL;
END $$;
ALTER FUNCTION delete_old_logs() OWNER TO maraum_staff;

-- #2/#32/#45: every profile whose week has ended moves to the next Monday 00:00 UTC in one
-- step (idempotent, and a missed run is recovered by the next). The new week's count is what
-- was already completed in it, normally 0.
CREATE FUNCTION reset_weekly_limits() RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_started timestamptz := clock_timestamp();
  v_next timestamptz := next_week_start(now());
  v_week_start timestamptz := next_week_start(now()) - interval '7 days';
  v_count integer;
  v_oldest timestamptz;
BEGIN
  WITH reset AS (
    UPDATE profiles p SET
      current_week_completion_count = (
        SELECT count(*) FROM sessions s
        WHERE s.user_id = p.id AND s.is_completed AND s.completed_at >= v_week_start),
      week_reset_date = v_next
    FROM (SELECT id, week_reset_date AS was FROM profiles WHERE week_reset_date <= now()) due
    -- Re-checked on p after a lock wait, so a concurrent second run resets nothing twice.
    WHERE p.id = due.id AND p.week_reset_date <= now()
    RETURNING due.was
  )
  SELECT count(*), min(was) INTO v_count, v_oldest FROM reset;
  INSERT INTO logs (level, event_type, metadata) VALUES ('info', 'weekly_limit_reset',
    jsonb_build_object('job_id', gen_random_uuid(), 'function', 'reset_weekly_limits',
      'profiles_reset', v_count, 'week_start', v_week_start, 'next_reset', v_next,
      'oldest_missed_reset', v_oldest,
      'duration_ms', round(extract(epoch FROM clock_timestamp() - v_started) * 1000)));
  RETURN v_count;
EXCEPTION WHEN OTHERS THEN
  INSERT INTO logs (level, event_type, metadata) VALUES ('error', 'database_error',
    jsonb_build_object('function', 'reset_weekly_limits', 'sqlstate', SQLSTATE,
                       'error', SQLERRM));
  RETURN NULL;
END $$;
ALTER FUNCTION reset_weekly_limits() OWNER TO maraum_staff;
"""

REVERSE = """
DROP FUNCTION IF EXISTS reset_weekly_limits();
DROP FUNCTION IF EXISTS delete_old_logs();
DROP FUNCTION IF EXISTS delete_expired_sessions();
DROP FUNCTION IF EXISTS write_log(text, text, uuid, uuid, jsonb);
GRANT INSERT, UPDATE, DELETE ON logs TO maraum_learner;
DROP POLICY IF EXISTS logs_staff_all ON logs;
DROP POLICY IF EXISTS logs_select_own ON logs;
ALTER TABLE logs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE logs DISABLE ROW LEVEL SECURITY;
ALTER TABLE logs DROP CONSTRAINT IF EXISTS logs_session_id_fkey;
ALTER TABLE logs DROP CONSTRAINT IF EXISTS logs_user_id_fkey;
"""


class Migration(migrations.Migration):
    dependencies = [("eventlog", "0001_initial"), ("chat", "0002_messages_sql")]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=REVERSE)]
