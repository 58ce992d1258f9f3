# A login (a Django session) whose expiry is brought forward (by SQL or a tool: Django only
# ever moves it later) is told to the server processes as an ended one is (0013): each of
# its sockets checks the login, and waits for its expiry as it now stands. They kept the
# expiry read at the handshake, and went on receiving past the new one (the attacker's
# recheck).

from django.db import migrations

FORWARD = """
CREATE FUNCTION tell_login_ends_sooner() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM pg_notify('maraum_login_changes',
                    'login-' || left(encode(sha256(convert_to(NEW.session_key, 'UTF8')), 'hex'), 32)
                    || ':ended');
  RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION tell_login_ends_sooner() FROM PUBLIC;

CREATE TRIGGER django_session_login_ends_sooner
  AFTER UPDATE OF expire_date ON django_session
  FOR EACH ROW
  WHEN (NEW.expire_date < OLD.expire_date)
  EXECUTE FUNCTION tell_login_ends_sooner();
"""

REVERSE = """
DROP TRIGGER IF EXISTS django_session_login_ends_sooner ON django_session;
DROP FUNCTION IF EXISTS tell_login_ends_sooner();
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0013_ended_logins_told")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
