# Every login removed at once (TRUNCATE django_session, a common way to log everyone out), or
# a login's key changed by SQL, is told to the server processes too: TRUNCATE fires no DELETE
# trigger (0013), and their sockets stayed open receiving the conversation (the attacker's
# recheck). After a TRUNCATE every socket checks its login ("*"); a key changed ends the old
# one's.

from django.db import migrations

FORWARD = """
CREATE FUNCTION tell_every_login_to_check() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM pg_notify('maraum_login_changes', '*:ended');
  RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION tell_every_login_to_check() FROM PUBLIC;

CREATE TRIGGER django_session_logins_emptied
  AFTER TRUNCATE ON django_session
  FOR EACH STATEMENT
  EXECUTE FUNCTION tell_every_login_to_check();

CREATE FUNCTION tell_login_rekeyed() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM pg_notify('maraum_login_changes',
                    'login-' || left(encode(sha256(convert_to(OLD.session_key, 'UTF8')), 'hex'), 32)
                    || ':ended');
  RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION tell_login_rekeyed() FROM PUBLIC;

CREATE TRIGGER django_session_login_rekeyed
  AFTER UPDATE OF session_key ON django_session
  FOR EACH ROW
  WHEN (OLD.session_key IS DISTINCT FROM NEW.session_key)
  EXECUTE FUNCTION tell_login_rekeyed();
"""

REVERSE = """
DROP TRIGGER IF EXISTS django_session_login_rekeyed ON django_session;
DROP FUNCTION IF EXISTS tell_login_rekeyed();
DROP TRIGGER IF EXISTS django_session_logins_emptied ON django_session;
DROP FUNCTION IF EXISTS tell_every_login_to_check();
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0014_logins_ending_sooner_told")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
