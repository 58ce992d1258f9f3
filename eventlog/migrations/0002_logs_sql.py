# Logs: foreign keys, row-level security and the write_log() door.

from django.db import migrations

# write_log() on its own: 0003 replaces it, and its reverse brings this one back.
WRITE_LOG = """
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
"""

FORWARD = (
    """
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
"""
    + WRITE_LOG
    + """ALTER FUNCTION write_log(text, text, uuid, uuid, jsonb) OWNER TO maraum_staff;

"""
)

REVERSE = """
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
