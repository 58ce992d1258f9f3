# A login checked by its session key's digest: a chat turn's statement holds no credential in
# its text, which a server may log (chat migration 0008's take_plain_turn()).

from django.db import migrations

FORWARD = """
-- Django's session keys are lowercase letters and digits, so ::bytea reads them as they are.
CREATE INDEX django_session_key_digest
  ON django_session (encode(sha256(session_key::bytea), 'hex'));

-- The login rule (was current_login_email(), accounts 0003): the account is active and, with a
-- session, the Django session exists and has not expired. Returns the learner's email (what
-- the daily model budget is counted by), or NULL. By the session key's SHA-256, hex.
CREATE FUNCTION current_login_email_by_digest(p_user uuid, p_session_digest text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT email::text FROM accounts_user
    WHERE id = p_user AND is_active
      AND (p_session_digest IS NULL OR EXISTS (
             SELECT 1 FROM django_session
             WHERE encode(sha256(session_key::bytea), 'hex') = p_session_digest
               AND expire_date > now()))
  $$;
ALTER FUNCTION current_login_email_by_digest(uuid, text) OWNER TO maraum_staff;
REVOKE EXECUTE ON FUNCTION current_login_email_by_digest(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION current_login_email_by_digest(uuid, text) TO maraum_learner;

-- The same rule by the key itself (chat/allowance.py's step-by-step turn).
CREATE OR REPLACE FUNCTION current_login_email(p_user uuid, p_session_key text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT current_login_email_by_digest(p_user, encode(sha256(p_session_key::bytea), 'hex'))
  $$;
"""

REVERSE = """
CREATE OR REPLACE FUNCTION current_login_email(p_user uuid, p_session_key text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT email::text FROM accounts_user
    WHERE id = p_user AND is_active
      AND (p_session_key IS NULL OR EXISTS (
             SELECT 1 FROM django_session
             WHERE session_key = p_session_key AND expire_date > now()))
  $$;
DROP FUNCTION IF EXISTS current_login_email_by_digest(uuid, text);
DROP INDEX IF EXISTS django_session_key_digest;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_take_all_tokens"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
