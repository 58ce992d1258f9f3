# Staff actions land in the admin's history (README, "Admin"), and stay: Django deleted an
# account's own entries with it (LogEntry.user cascades), and who did what went (the
# attacker's recheck). accounts.deletion refuses such a deletion first; this refuses one whose
# entry was written after that check.

from django.db import migrations

FORWARD = """
-- README, Admin: no entry of the admin's history is deleted; an account that wrote some is deactivated.
CREATE FUNCTION keep_admin_history() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION 'the admin''s history is kept: deactivate the account instead'
    USING ERRCODE = 'restrict_violation';
END $$;
REVOKE EXECUTE ON FUNCTION keep_admin_history() FROM PUBLIC;
CREATE TRIGGER keep_admin_history BEFORE DELETE ON django_admin_log
  FOR EACH ROW EXECUTE FUNCTION keep_admin_history();
"""

REVERSE = """
DROP TRIGGER IF EXISTS keep_admin_history ON django_admin_log;
DROP FUNCTION IF EXISTS keep_admin_history();
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_one_spelling_per_email")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
