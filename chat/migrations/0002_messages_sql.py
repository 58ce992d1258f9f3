# Messages: foreign keys, the insert checks, counts, immutability and row-level security.

from django.db import migrations

# The insert check's function, on its own: 0003 replaces it, and its reverse brings this back.
SESSION_CHECK = """
CREATE FUNCTION prevent_messages_in_completed_sessions() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  completed boolean;
BEGIN
  SELECT is_completed INTO completed FROM sessions WHERE id = NEW.session_id FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Session % does not exist', NEW.session_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF completed THEN
    RAISE EXCEPTION 'Session % is completed: no more messages can be added', NEW.session_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
"""

FORWARD = (
    """
-- decision 10/#40: messages go with their session and their learner.
ALTER TABLE messages ADD CONSTRAINT messages_session_id_fkey FOREIGN KEY (session_id)
  REFERENCES sessions (id) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE messages ADD CONSTRAINT messages_user_id_fkey FOREIGN KEY (user_id)
  REFERENCES profiles (id) ON DELETE CASCADE ON UPDATE CASCADE;
-- #18: user_id is always there; the trigger below fills it before this is checked.
ALTER TABLE messages ALTER COLUMN user_id SET NOT NULL;

-- #3: no message into a completed session. FOR SHARE makes a concurrent completion wait
-- until this message is committed, so none slips in after it.
"""
    + SESSION_CHECK
    + """ALTER FUNCTION prevent_messages_in_completed_sessions() OWNER TO maraum_staff;
CREATE TRIGGER check_session_not_completed BEFORE INSERT ON messages
  FOR EACH ROW EXECUTE FUNCTION prevent_messages_in_completed_sessions();

-- #18: a message's learner is its session's learner, whatever the insert said; row-level
-- security on messages then compares user_id without a join.
CREATE FUNCTION populate_message_user_id() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  SELECT user_id INTO NEW.user_id FROM sessions WHERE id = NEW.session_id;
  RETURN NEW;
END $$;
ALTER FUNCTION populate_message_user_id() OWNER TO maraum_staff;
CREATE TRIGGER populate_user_id_on_insert BEFORE INSERT ON messages
  FOR EACH ROW EXECUTE FUNCTION populate_message_user_id();

-- decision 9/#11: per-chat message counts, raising on anything unexpected; each message also
-- moves the session's last_activity_at (what expiry is measured from).
CREATE FUNCTION increment_message_count() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF NEW.chat_type = 'main' THEN
    UPDATE sessions SET message_count_main = message_count_main + 1,
                        last_activity_at = greatest(last_activity_at, NEW.sent_at)
    WHERE id = NEW.session_id;
  ELSIF NEW.chat_type = 'helper' THEN
    UPDATE sessions SET message_count_helper = message_count_helper + 1,
                        last_activity_at = greatest(last_activity_at, NEW.sent_at)
    WHERE id = NEW.session_id;
  ELSE
    RAISE EXCEPTION 'Invalid chat_type: %', NEW.chat_type;
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Session % vanished while counting message %', NEW.session_id, NEW.id;
  END IF;
  RETURN NULL;
END $$;
ALTER FUNCTION increment_message_count() OWNER TO maraum_staff;
CREATE TRIGGER increment_message_count AFTER INSERT ON messages
  FOR EACH ROW EXECUTE FUNCTION increment_message_count();

-- #37/#4: messages are immutable: stored once, complete, never updated.
CREATE FUNCTION prevent_message_updates() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION 'Messages are immutable and cannot be updated'
    USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER messages_immutable BEFORE UPDATE ON messages
  FOR EACH ROW EXECUTE FUNCTION prevent_message_updates();

-- decision 6/#18: row-level security on messages by the denormalised user_id.
ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
CREATE POLICY messages_select_own ON messages FOR SELECT TO maraum_learner
  USING (user_id = current_learner_id());
CREATE POLICY messages_insert_own ON messages FOR INSERT TO maraum_learner
  WITH CHECK (user_id = current_learner_id());
CREATE POLICY messages_staff_all ON messages FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
-- Learners add and read messages; nobody updates them, deletes only cascade.
REVOKE UPDATE, DELETE ON messages FROM maraum_learner;
"""
)

REVERSE = """
GRANT UPDATE, DELETE ON messages TO maraum_learner;
DROP POLICY IF EXISTS messages_staff_all ON messages;
DROP POLICY IF EXISTS messages_insert_own ON messages;
DROP POLICY IF EXISTS messages_select_own ON messages;
ALTER TABLE messages NO FORCE ROW LEVEL SECURITY;
ALTER TABLE messages DISABLE ROW LEVEL SECURITY;
DROP TRIGGER IF EXISTS messages_immutable ON messages;
DROP FUNCTION IF EXISTS prevent_message_updates();
DROP TRIGGER IF EXISTS increment_message_count ON messages;
DROP FUNCTION IF EXISTS increment_message_count();
DROP TRIGGER IF EXISTS populate_user_id_on_insert ON messages;
DROP FUNCTION IF EXISTS populate_message_user_id();
DROP TRIGGER IF EXISTS check_session_not_completed ON messages;
DROP FUNCTION IF EXISTS prevent_messages_in_completed_sessions();
ALTER TABLE messages ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_user_id_fkey;
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_session_id_fkey;
"""


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial"), ("scenarios", "0002_sessions_sql")]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=REVERSE)]
