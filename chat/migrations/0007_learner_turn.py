# A turn's messages in one statement each, with the reply claim: the learner's message with
# the claim taken, the reply with the claim given up. A refusal comes back as a value, not as
# a failing statement: a server set to log failing statements would log the message in it.

from django.db import migrations

FORWARD = """
-- chat/messages.add_learner_message: store the learner's message (once per client message
-- id, #46) and claim the chat's next reply for this worker. Refusals come back by name:
-- the triggers' (#3: no role-play message into a completed session; the session is gone)
-- and 'reply_in_flight' (a new message while another reply is on its way: it is not kept,
-- and the caller's transaction, with the throttles it spent, goes on). Lock order as
-- before: the session row (the insert's check), then the claim. Runs as the caller, under
-- row-level security.
CREATE FUNCTION add_learner_message(p_id uuid, p_session uuid, p_chat chat_type,
                                    p_content text, p_client_message_id uuid,
                                    p_worker text, p_stale_after interval)
  RETURNS TABLE (created boolean, claimed boolean, refused text)
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
DECLARE
  v_constraint text;
BEGIN
  INSERT INTO messages (id, session_id, role, chat_type, content, client_message_id)
  VALUES (p_id, p_session, 'user', p_chat, p_content, p_client_message_id)
  ON CONFLICT (session_id, client_message_id) WHERE client_message_id IS NOT NULL
  DO NOTHING;
  created := FOUND;
  claimed := claim_reply(p_session, p_chat, p_worker, p_stale_after);
  IF created AND NOT claimed THEN
    RAISE EXCEPTION USING ERRCODE = 'MR001';  -- undoes the insert (below)
  END IF;
  RETURN QUERY SELECT created, claimed, NULL::text;
EXCEPTION
  WHEN SQLSTATE 'MR001' THEN
    RETURN QUERY SELECT false, false, 'reply_in_flight';
  WHEN check_violation OR foreign_key_violation THEN
    GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
    IF v_constraint NOT IN ('messages_session_not_completed', 'messages_session_exists') THEN
      RAISE;
    END IF;
    RETURN QUERY SELECT false, false, v_constraint;
END $$;

-- chat/messages.add_reply: store a complete reply and give up this worker's claim on the
-- chat. 'messages_session_exists' when the session was deleted while the reply was
-- written; released is false when the claim is no longer this worker's (the caller then
-- rolls the reply back). Runs as the caller, under row-level security.
CREATE FUNCTION add_reply(p_id uuid, p_session uuid, p_role message_role, p_chat chat_type,
                          p_content text, p_worker text)
  RETURNS TABLE (refused text, released boolean, user_id uuid, sent_at timestamptz)
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
DECLARE
  v_constraint text;
  v_user uuid;
  v_sent timestamptz;
BEGIN
  BEGIN
    INSERT INTO messages AS m (id, session_id, role, chat_type, content)
    VALUES (p_id, p_session, p_role, p_chat, p_content)
    RETURNING m.user_id, m.sent_at INTO v_user, v_sent;
  EXCEPTION WHEN foreign_key_violation THEN
    GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
    IF v_constraint <> 'messages_session_exists' THEN
      RAISE;
    END IF;
    RETURN QUERY SELECT v_constraint, false, NULL::uuid, NULL::timestamptz;
    RETURN;
  END;
  DELETE FROM reply_claims c
  WHERE c.session_id = p_session AND c.chat_type = p_chat AND c.worker = p_worker;
  RETURN QUERY SELECT NULL::text, FOUND, v_user, v_sent;
END $$;

-- decision 6: learners take turns and store their replies; nobody else calls these.
REVOKE EXECUTE ON FUNCTION
  add_learner_message(uuid, uuid, chat_type, text, uuid, text, interval),
  add_reply(uuid, uuid, message_role, chat_type, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  add_learner_message(uuid, uuid, chat_type, text, uuid, text, interval),
  add_reply(uuid, uuid, message_role, chat_type, text, text) TO maraum_learner;
"""

REVERSE = """
DROP FUNCTION IF EXISTS add_reply(uuid, uuid, message_role, chat_type, text, text);
DROP FUNCTION IF EXISTS add_learner_message(uuid, uuid, chat_type, text, uuid, text, interval);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0006_task_queue_privileges"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
