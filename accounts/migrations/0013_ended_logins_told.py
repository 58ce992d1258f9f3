# A login (a Django session) deleted before it expired, by a log-out, a new key on logging in
# or choosing a password, an admin or SQL, the database tells every server process, which
# closes that login's open chat sockets; they connect again and the handshake checks their
# login. A session deleted by SQL, or by `clearsessions`, left its sockets receiving the
# conversation (the attacker's replay). By its key's digest, as the sockets' login group is
# named (chat.consumers.login_group): a notice's text may be logged, a key is a credential.
# Sessions deleted once expired (`cleanup`) tell nothing: their sockets closed at expiry.

from django.db import migrations

FORWARD = """
CREATE FUNCTION tell_logins_ended() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM pg_notify('maraum_login_changes',
                    'login-' || left(encode(sha256(convert_to(ended.session_key, 'UTF8')), 'hex'), 32)
                    || ':ended')
     FROM ended
    WHERE ended.expire_date > now();
  RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION tell_logins_ended() FROM PUBLIC;

CREATE TRIGGER django_session_logins_ended
  AFTER DELETE ON django_session
  REFERENCING OLD TABLE AS ended
  FOR EACH STATEMENT
  EXECUTE FUNCTION tell_logins_ended();
"""

REVERSE = """
DROP TRIGGER IF EXISTS django_session_logins_ended ON django_session;
DROP FUNCTION IF EXISTS tell_logins_ended();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0012_login_changes_told"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
