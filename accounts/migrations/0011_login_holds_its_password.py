# A login holds only while its account's password is the one it was checked with, as Django's
# check of a page's login: a password set from the command line, a shell or SQL sends no
# notice the server hears, and the other logins' open sockets went on sending and receiving
# (the attacker's replay). A socket's login digest is now its session key's SHA-256 and its
# account's password hash's, hex, joined by ":" (accounts/channels_auth.SocketLogin.digest).

from django.db import migrations

FORWARD = """
-- The login rule (accounts 0006), its digest holding the password's too. A digest without it
-- holds no login.
CREATE OR REPLACE FUNCTION current_login_email_by_digest(p_user uuid, p_session_digest text)
  RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT email::text FROM accounts_user
    WHERE id = p_user AND is_active
      AND (p_session_digest IS NULL OR (
             EXISTS (SELECT 1 FROM django_session
                     WHERE encode(sha256(session_key::bytea), 'hex')
                             = split_part(p_session_digest, ':', 1)
                       AND expire_date > now())
             AND encode(sha256(convert_to(password, 'UTF8')), 'hex')
                   = split_part(p_session_digest, ':', 2)))
  $$;

-- By the raw key, it checked no password: every caller goes by the digest now.
DROP FUNCTION current_login_email(uuid, text);
"""

REVERSE = """
CREATE OR REPLACE FUNCTION current_login_email_by_digest(p_user uuid, p_session_digest text)
  RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT email::text FROM accounts_user
    WHERE id = p_user AND is_active
      AND (p_session_digest IS NULL OR EXISTS (
             SELECT 1 FROM django_session
             WHERE encode(sha256(session_key::bytea), 'hex') = p_session_digest
               AND expire_date > now()))
  $$;
CREATE FUNCTION current_login_email(p_user uuid, p_session_key text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT current_login_email_by_digest(p_user, encode(sha256(p_session_key::bytea), 'hex'))
  $$;
ALTER FUNCTION current_login_email(uuid, text) OWNER TO maraum_staff;
REVOKE EXECUTE ON FUNCTION current_login_email(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION current_login_email(uuid, text) TO maraum_learner;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_admin_history_is_kept"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
