# A password or an account's active flag changed anywhere (the admin, a command, a shell,
# SQL), the database tells every server process, which closes the learner's open chat
# sockets; they connect again and the handshake checks their login (chat/login_changes.py).
# Set where no notice reached a server, an ended login's socket that only listened went on
# receiving the conversation (the attacker's recheck).

from django.db import migrations

FORWARD = """
CREATE FUNCTION tell_login_changed() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM pg_notify('maraum_login_changes',
                    NEW.id::text || CASE WHEN NEW.is_active THEN ':password' ELSE ':deactivated' END);
  RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION tell_login_changed() FROM PUBLIC;

CREATE TRIGGER accounts_user_login_changed
  AFTER UPDATE OF password, is_active ON accounts_user
  FOR EACH ROW
  WHEN (OLD.password IS DISTINCT FROM NEW.password OR (OLD.is_active AND NOT NEW.is_active))
  EXECUTE FUNCTION tell_login_changed();
"""

REVERSE = """
DROP TRIGGER IF EXISTS accounts_user_login_changed ON accounts_user;
DROP FUNCTION IF EXISTS tell_login_changed();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_login_holds_its_password"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
