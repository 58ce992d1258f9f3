# The deck's lock: a learner's keeps, put-backs and removals, and the deletion of their account,
# take it first, one at a time (one lock order of a learner's rows).

from django.db import migrations

FORWARD = """
-- One lock order of a learner's rows (as scenarios 0005's): their deck changes under this lock.
CREATE FUNCTION lock_deck(learner uuid) RETURNS void
  LANGUAGE sql SET search_path = pg_catalog, pg_temp
  AS $$ SELECT pg_advisory_xact_lock(hashtextextended('deck:' || learner::text, 0)) $$;

-- The same order when an account goes: its sessions (lock_sessions_before_user_delete, which
-- fires first by name), then its deck, before the cascade locks the profile: a removal that
-- held a card and then referred to the profile deadlocked with it (the attacker's recheck).
CREATE FUNCTION lock_deck_of_deleted_user() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM lock_deck(OLD.id);
  RETURN OLD;
END $$;
ALTER FUNCTION lock_deck_of_deleted_user() OWNER TO maraum_staff;
CREATE TRIGGER lock_the_deck_before_user_delete BEFORE DELETE ON accounts_user
  FOR EACH ROW EXECUTE FUNCTION lock_deck_of_deleted_user();

REVOKE EXECUTE ON FUNCTION lock_deck(uuid), lock_deck_of_deleted_user() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lock_deck(uuid) TO maraum_learner, maraum_staff;
"""

REVERSE = """
DROP TRIGGER IF EXISTS lock_the_deck_before_user_delete ON accounts_user;
DROP FUNCTION IF EXISTS lock_deck_of_deleted_user();
DROP FUNCTION IF EXISTS lock_deck(uuid);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("learning", "0006_undo_in_the_database"),
        ("scenarios", "0005_one_week_rule"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
