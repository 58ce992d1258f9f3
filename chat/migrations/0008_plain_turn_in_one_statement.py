# A plain turn in one statement each way, so the role, the statement and its commit go to the
# server in one round trip (lib/rls.py's as_learner_in_one_round_trip): the learner's message
# with everything it spends and claims, and the reply with what it gives up. No credential in
# a statement's text, which a server may log: the login goes by its session key's digest, the
# model budget by its bucket key (a salted hash of the email). Anything other
# than the plain case comes back by name, with nothing kept, for the step-by-step path
# (chat/turns.py). Each composes the functions that hold the rules; none adds a rule.

from django.db import migrations

FORWARD = """
-- chat/turns.accept_turn: the learner's message in one statement. The login still holds
-- (current_login_email_by_digest()), the message and the model call are spent
-- (take_all_tokens(); the last bucket is the model call's), the message is stored with the
-- chat's reply claim (add_learner_message()) and the call is logged as started. Outcomes:
-- 'taken'; 'login_ended'; 'throttled' (with the verdict); a refusal of add_learner_message()
-- (the model call given back, the message spent); or 'other' (a resend, a main-chat message
-- that fills the scene at p_main_cap): then nothing is kept. Lock order as the step-by-step
-- turn's: the buckets, the session row, the claim.
-- Runs as the caller, under row-level security.
CREATE FUNCTION take_plain_turn(
    p_learner uuid, p_login_digest text,
    p_keys text[], p_capacities double precision[], p_per_seconds double precision[],
    p_id uuid, p_session uuid, p_chat chat_type, p_content text, p_client_message_id uuid,
    p_worker text, p_stale_after interval, p_main_cap integer,
    p_log_event text, p_log_metadata jsonb)
  RETURNS TABLE (outcome text, refused_by integer, tokens_left double precision,
                 retry_after double precision, first_refusal boolean)
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
DECLARE
  v_last integer := cardinality(p_keys);
  v_verdict record;
  v_stored record;
BEGIN
  IF current_login_email_by_digest(p_learner, p_login_digest) IS NULL THEN
    RETURN QUERY SELECT 'login_ended', NULL::integer, NULL::float8, NULL::float8, NULL::boolean;
    RETURN;
  END IF;
  BEGIN
    SELECT * INTO v_verdict FROM take_all_tokens(p_keys, p_capacities, p_per_seconds);
    IF v_verdict.refused_by IS NOT NULL THEN
      RETURN QUERY SELECT 'throttled', v_verdict.refused_by, v_verdict.tokens_left,
                          v_verdict.retry_after, v_verdict.first_refusal;
      RETURN;
    END IF;
    SELECT * INTO v_stored FROM add_learner_message(p_id, p_session, p_chat, p_content,
                                                    p_client_message_id, p_worker, p_stale_after);
    IF v_stored.refused IS NOT NULL THEN
      PERFORM take_tokens(p_keys[v_last], p_capacities[v_last], p_per_seconds[v_last], -1);
      RETURN QUERY SELECT v_stored.refused, NULL::integer, NULL::float8, NULL::float8,
                          NULL::boolean;
      RETURN;
    END IF;
    IF NOT (v_stored.created AND v_stored.claimed)
       OR (p_chat = 'main' AND (SELECT s.message_count_main FROM sessions s
                                WHERE s.id = p_session) >= p_main_cap) THEN
      RAISE EXCEPTION USING ERRCODE = 'MR002';  -- undoes the tokens and the message (below)
    END IF;
    PERFORM write_log('info', p_log_event, p_learner, p_session, p_log_metadata);
    RETURN QUERY SELECT 'taken', NULL::integer, v_verdict.tokens_left, 0::float8, false;
  EXCEPTION
    WHEN SQLSTATE 'MR002' THEN
      RETURN QUERY SELECT 'other', NULL::integer, NULL::float8, NULL::float8, NULL::boolean;
  END;
END $$;

-- chat/turns.store_reply: a plain reply (no goal reached, the scene goes on) in one
-- statement: stored as this worker gives up the chat's claim (add_reply()), and the call
-- logged as completed. 'messages_session_exists' when the session is gone; released is
-- false, and nothing kept, when the claim is no longer this worker's. Runs as the caller,
-- under row-level security.
CREATE FUNCTION store_plain_reply(p_id uuid, p_session uuid, p_role message_role,
                                  p_chat chat_type, p_content text, p_worker text,
                                  p_learner uuid, p_log_event text, p_log_metadata jsonb)
  RETURNS TABLE (refused text, released boolean, user_id uuid, sent_at timestamptz)
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
DECLARE
  v_stored record;
BEGIN
  SELECT * INTO v_stored FROM add_reply(p_id, p_session, p_role, p_chat, p_content, p_worker);
  IF v_stored.refused IS NULL AND NOT v_stored.released THEN
    RAISE EXCEPTION USING ERRCODE = 'MR002';  -- undoes the reply (below)
  END IF;
  IF v_stored.refused IS NULL THEN
    PERFORM write_log('info', p_log_event, p_learner, p_session, p_log_metadata);
  END IF;
  RETURN QUERY SELECT v_stored.refused, v_stored.released, v_stored.user_id, v_stored.sent_at;
EXCEPTION
  WHEN SQLSTATE 'MR002' THEN
    RETURN QUERY SELECT NULL::text, false, NULL::uuid, NULL::timestamptz;
END $$;

-- decision 6: learners take turns and store their replies; nobody else calls these.
REVOKE EXECUTE ON FUNCTION
  take_plain_turn(uuid, text, text[], double precision[], double precision[], uuid, uuid,
                  chat_type, text, uuid, text, interval, integer, text, jsonb),
  store_plain_reply(uuid, uuid, message_role, chat_type, text, text, uuid, text, jsonb)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  take_plain_turn(uuid, text, text[], double precision[], double precision[], uuid, uuid,
                  chat_type, text, uuid, text, interval, integer, text, jsonb),
  store_plain_reply(uuid, uuid, message_role, chat_type, text, text, uuid, text, jsonb)
  TO maraum_learner;
"""

REVERSE = """
DROP FUNCTION IF EXISTS store_plain_reply(uuid, uuid, message_role, chat_type, text, text, uuid,
                                          text, jsonb);
DROP FUNCTION IF EXISTS take_plain_turn(uuid, text, text[], double precision[],
                                        double precision[], uuid, uuid, chat_type, text, uuid,
                                        text, interval, integer, text, jsonb);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0007_learner_turn"),
        ("accounts", "0006_login_by_digest"),
        ("eventlog", "0005_former_session_id"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
