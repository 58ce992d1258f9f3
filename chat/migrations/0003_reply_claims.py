# Turns that run side by side: one lock order for the message checks, and reply claims (at most
# one reply in flight per chat, across processes, and a trace of replies a crash interrupted);
# least privilege on messages and reply claims.

import importlib

import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models

import lib.postgres

FORWARD = """
-- #3 (amended): no main-chat message into a completed session; the helper stays open for
-- questions about the scene. The row is locked FOR NO KEY UPDATE, the lock the count
-- trigger's UPDATE takes anyway: with FOR SHARE, two concurrent inserts (main and helper)
-- each held a share lock and then deadlocked upgrading it. A completion still waits for it.
CREATE OR REPLACE FUNCTION prevent_messages_in_completed_sessions() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  completed boolean;
BEGIN
  SELECT is_completed INTO completed FROM sessions WHERE id = NEW.session_id
    FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Session % does not exist', NEW.session_id
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'messages_session_exists';
  END IF;
  IF completed AND NEW.chat_type = 'main' THEN
    RAISE EXCEPTION 'Session % is completed: no more role-play messages', NEW.session_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'messages_session_not_completed';
  END IF;
  RETURN NEW;
END $$;

-- Reply claims go with their session and learner; user_id is the session's (as on messages).
ALTER TABLE reply_claims ADD CONSTRAINT reply_claims_session_id_fkey FOREIGN KEY (session_id)
  REFERENCES sessions (id) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE reply_claims ADD CONSTRAINT reply_claims_user_id_fkey FOREIGN KEY (user_id)
  REFERENCES profiles (id) ON DELETE CASCADE ON UPDATE CASCADE;
CREATE TRIGGER populate_user_id_on_insert BEFORE INSERT ON reply_claims
  FOR EACH ROW EXECUTE FUNCTION populate_message_user_id();
ALTER TABLE reply_claims ALTER COLUMN user_id SET NOT NULL;

-- decision 6: row-level security on reply claims, as on messages.
ALTER TABLE reply_claims ENABLE ROW LEVEL SECURITY;
ALTER TABLE reply_claims FORCE ROW LEVEL SECURITY;
CREATE POLICY reply_claims_select_own ON reply_claims FOR SELECT TO maraum_learner
  USING (user_id = current_learner_id());
CREATE POLICY reply_claims_insert_own ON reply_claims FOR INSERT TO maraum_learner
  WITH CHECK (user_id = current_learner_id());
CREATE POLICY reply_claims_delete_own ON reply_claims FOR DELETE TO maraum_learner
  USING (user_id = current_learner_id());
CREATE POLICY reply_claims_staff_all ON reply_claims FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
-- Learners claim and release; only the worker's heartbeat (as staff) updates a claim.
REVOKE UPDATE ON reply_claims FROM maraum_learner;

-- A claim whose worker stopped renewing it was interrupted (the process died mid-reply):
-- release it and say so in the logs, once. Runs as the caller, under row-level security.
CREATE FUNCTION release_stale_reply_claims(p_session uuid, p_stale_after interval)
  RETURNS SETOF chat_type
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
DECLARE
  stale reply_claims;
BEGIN
  FOR stale IN
    DELETE FROM reply_claims
    WHERE session_id = p_session AND heartbeat_at < now() - p_stale_after
    RETURNING *
  LOOP
    PERFORM write_log('warn', 'reply_interrupted', stale.user_id, stale.session_id,
      jsonb_build_object('chat', stale.chat_type, 'reason', 'worker_stopped',
        'worker', stale.worker, 'claimed_at', stale.claimed_at,
        'last_heartbeat_at', stale.heartbeat_at));
    RETURN NEXT stale.chat_type;
  END LOOP;
END $$;

-- The chats of a session with a reply in flight (interrupted = false) and those whose stale
-- claim was just released (interrupted = true).
CREATE FUNCTION reply_claims_in_flight(p_session uuid, p_stale_after interval)
  RETURNS TABLE (chat chat_type, interrupted boolean)
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  RETURN QUERY SELECT released, true FROM release_stale_reply_claims(p_session, p_stale_after)
    AS released;
  RETURN QUERY SELECT chat_type, false FROM reply_claims WHERE session_id = p_session;
END $$;

-- One reply in flight per chat, whichever process asks: true if this worker got the claim.
CREATE FUNCTION claim_reply(p_session uuid, p_chat chat_type, p_worker text,
                            p_stale_after interval)
  RETURNS boolean
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM release_stale_reply_claims(p_session, p_stale_after);
  INSERT INTO reply_claims (session_id, chat_type, worker)
  VALUES (p_session, p_chat, p_worker)
  ON CONFLICT DO NOTHING;
  RETURN FOUND;
END $$;

-- decision 6 and #4: learners add and read their messages (never change or delete them), and
-- claim, read and release their reply claims.
REVOKE ALL ON messages, reply_claims FROM maraum_learner;
GRANT SELECT, INSERT ON messages TO maraum_learner;
GRANT SELECT, INSERT, DELETE ON reply_claims TO maraum_learner;
REVOKE EXECUTE ON FUNCTION prevent_messages_in_completed_sessions(), populate_message_user_id(),
  increment_message_count(), prevent_message_updates(),
  release_stale_reply_claims(uuid, interval), reply_claims_in_flight(uuid, interval),
  claim_reply(uuid, chat_type, text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION release_stale_reply_claims(uuid, interval),
  reply_claims_in_flight(uuid, interval), claim_reply(uuid, chat_type, text, interval)
  TO maraum_learner, maraum_staff;
"""

REVERSE = """
GRANT EXECUTE ON FUNCTION release_stale_reply_claims(uuid, interval),
  reply_claims_in_flight(uuid, interval), claim_reply(uuid, chat_type, text, interval)
  TO PUBLIC;
DROP FUNCTION IF EXISTS claim_reply(uuid, chat_type, text, interval);
DROP FUNCTION IF EXISTS reply_claims_in_flight(uuid, interval);
DROP FUNCTION IF EXISTS release_stale_reply_claims(uuid, interval);
""" + importlib.import_module("chat.migrations.0002_messages_sql").SESSION_CHECK.replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_logins"),
        ("chat", "0002_messages_sql"),
        ("scenarios", "0005_one_week_rule"),
        ("eventlog", "0002_logs_sql"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReplyClaim",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "session",
                        "chat_type",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "chat_type",
                    lib.postgres.PgEnumField(
                        choices=[("main", "Main"), ("helper", "Helper")],
                        enum_type="chat_type",
                        max_length=16,
                    ),
                ),
                ("worker", models.CharField(max_length=100)),
                (
                    "claimed_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "heartbeat_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "session",
                    lib.postgres.DatabaseForeignKey(related_name="+", to="scenarios.session"),
                ),
                (
                    "user",
                    lib.postgres.DatabaseForeignKey(
                        blank=True, null=True, related_name="+", to="accounts.profile"
                    ),
                ),
            ],
            options={
                "db_table": "reply_claims",
                "indexes": [models.Index(fields=["worker"], name="idx_reply_claims_worker")],
            },
        ),
        migrations.RunSQL(FORWARD, reverse_sql=REVERSE),
    ]
