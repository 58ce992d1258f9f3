# A learner's turn: the message and the reply claim in one statement, and a refused message
# (the scene is over, the session gone) reported, not raised.

from django.db import migrations

FORWARD = """
-- chat/messages.add_learner_message: store the learner's message (once per client message
-- id, #46) and claim the chat's next reply for this worker. The triggers' refusals (#3: no
-- role-play message into a completed session; the session is gone) come back as the
-- constraint's name instead of an error: a server set to log failing statements would log
-- this one's text, i.e. the learner's message. The lock order stays: the session row (the
-- insert's check), then the claim. Runs as the caller, under row-level security.
CREATE FUNCTION add_learner_message(p_id uuid, p_session uuid, p_chat chat_type,
                                    p_content text, p_client_message_id uuid,
                                    p_worker text, p_stale_after interval)
  RETURNS TABLE (created boolean, claimed boolean, refused text)
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
DECLARE
  v_constraint text;
BEGIN
  BEGIN
    INSERT INTO messages (id, session_id, role, chat_type, content, client_message_id)
    VALUES (p_id, p_session, 'user', p_chat, p_content, p_client_message_id)
    ON CONFLICT (session_id, client_message_id) WHERE client_message_id IS NOT NULL
    DO NOTHING;
    created := FOUND;
  EXCEPTION WHEN check_violation OR foreign_key_violation THEN
    GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
    IF v_constraint NOT IN ('messages_session_not_completed', 'messages_session_exists') THEN
      RAISE;
    END IF;
    RETURN QUERY SELECT false, false, v_constraint;
    RETURN;
  END;
  claimed := claim_reply(p_session, p_chat, p_worker, p_stale_after);
  RETURN QUERY SELECT created, claimed, NULL::text;
END $$;
-- decision 6: learners take turns; nobody else calls it.
REVOKE EXECUTE ON FUNCTION
  add_learner_message(uuid, uuid, chat_type, text, uuid, text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  add_learner_message(uuid, uuid, chat_type, text, uuid, text, interval) TO maraum_learner;
"""

REVERSE = """
DROP FUNCTION IF EXISTS add_learner_message(uuid, uuid, chat_type, text, uuid, text, interval);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0006_task_queue_privileges"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
