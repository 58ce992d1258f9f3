# No email of a deleted account is left (README, "Soft or hard delete"): the admin's history
# kept it as the name of every change and of the deletion itself (the attacker's replay).

from django.db import migrations

FORWARD = """
-- #40: the admin's history of a deleted account keeps what staff did and when, not who it was:
-- its name (the email) and its change messages go; so does the deletion's, written just before.
CREATE FUNCTION forget_admin_history_of_deleted_user() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  UPDATE django_admin_log SET object_repr = 'a deleted account', change_message = ''
  WHERE object_id = OLD.id::text
    AND content_type_id = (SELECT id FROM django_content_type
                           WHERE app_label = 'accounts' AND model = 'user');
  RETURN OLD;
END $$;
REVOKE EXECUTE ON FUNCTION forget_admin_history_of_deleted_user() FROM PUBLIC;
CREATE TRIGGER forget_admin_history_before_user_delete BEFORE DELETE ON accounts_user
  FOR EACH ROW EXECUTE FUNCTION forget_admin_history_of_deleted_user();
"""

REVERSE = """
DROP TRIGGER IF EXISTS forget_admin_history_before_user_delete ON accounts_user;
DROP FUNCTION IF EXISTS forget_admin_history_of_deleted_user();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_carried_week"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
