# Why a chat's last reply did not come, for the pages opened after it (a reconnect, another
# tab): only the pages open at the time had been told. A learner reads no log (decision 6/#24):
# this one door gives the kind of failure of their own session's reply, nothing else.

from django.db import migrations

FORWARD = """
-- chat/call_log.last_failure: the last reply failure logged for a learner's own chat since
-- the message it answers (interrupted, failed, timed out) and its reason; never any content.
CREATE FUNCTION last_reply_failure(p_session uuid, p_chat chat_type, p_since timestamptz)
  RETURNS TABLE (event_type text, reason text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT l.event_type::text, l.metadata->>'reason' FROM logs l
  WHERE l.session_id = p_session AND l.user_id = current_learner_id()
    AND l.created_at >= p_since AND l.metadata->>'chat' = p_chat::text
    AND l.event_type IN ('reply_interrupted', 'api_call_failed', 'api_call_timeout')
  ORDER BY l.created_at DESC, l.id DESC
  LIMIT 1
$$;
ALTER FUNCTION last_reply_failure(uuid, chat_type, timestamptz) OWNER TO maraum_staff;
REVOKE EXECUTE ON FUNCTION last_reply_failure(uuid, chat_type, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION last_reply_failure(uuid, chat_type, timestamptz) TO maraum_learner;
"""

REVERSE = "DROP FUNCTION IF EXISTS last_reply_failure(uuid, chat_type, timestamptz);"


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0008_plain_turn_in_one_statement"),
        ("eventlog", "0005_former_session_id"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
