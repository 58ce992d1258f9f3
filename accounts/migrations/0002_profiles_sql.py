# Profiles: foreign key, creation trigger, shared helper functions and row-level security.

from django.db import migrations

FORWARD = """
-- #40: a profile is its user's; deleting the user deletes the profile (and, through it,
-- sessions and messages).
ALTER TABLE profiles ADD CONSTRAINT profiles_id_fkey FOREIGN KEY (id)
  REFERENCES accounts_user (id) ON DELETE CASCADE ON UPDATE CASCADE;

-- #2: the weekly limit's boundary: the Monday 00:00 UTC after a moment.
CREATE FUNCTION next_week_start(ts timestamptz) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT (date_trunc('week', ts AT TIME ZONE 'UTC') + interval '7 days') AT TIME ZONE 'UTC' $$;

-- The learner the current transaction acts for (lib/rls.py). Unset means NULL, and
-- `user_id = NULL` matches nothing: without a learner, no learner rows (fails closed).
CREATE FUNCTION current_learner_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT NULLIF(current_setting('maraum.learner_id', true), '')::uuid $$;

-- #38/#14 (decision 14): updated_at maintained by the database on every mutable table.
CREATE FUNCTION update_updated_at_column() RETURNS trigger
  LANGUAGE plpgsql
  AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;

-- #25/#26/#27: the only way a profile is made: when its user row is inserted. Validates the
-- email, starts the week at the next Monday 00:00 UTC (#2), runs with a pinned search_path.
CREATE FUNCTION create_profile_for_new_user() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF NEW.email IS NULL OR btrim(NEW.email::text) = '' THEN
    RAISE EXCEPTION 'Email cannot be empty' USING ERRCODE = 'check_violation';
  END IF;
  INSERT INTO profiles (id, email, week_reset_date)
  VALUES (NEW.id, NEW.email, next_week_start(now()));
  RETURN NEW;
END $$;
ALTER FUNCTION create_profile_for_new_user() OWNER TO maraum_staff;
CREATE TRIGGER on_user_created AFTER INSERT ON accounts_user
  FOR EACH ROW EXECUTE FUNCTION create_profile_for_new_user();

-- #42 (option B): profiles.email follows the account's email.
CREATE FUNCTION sync_profile_email() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ BEGIN UPDATE profiles SET email = NEW.email WHERE id = NEW.id; RETURN NULL; END $$;
ALTER FUNCTION sync_profile_email() OWNER TO maraum_staff;
CREATE TRIGGER on_user_email_changed AFTER UPDATE OF email ON accounts_user
  FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email) EXECUTE FUNCTION sync_profile_email();

-- decision 14: profiles.updated_at.
CREATE TRIGGER update_profiles_updated_at BEFORE UPDATE ON profiles
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- decision 6: row-level security, forced so that the owning login role is bound by it too.
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE profiles FORCE ROW LEVEL SECURITY;
-- A learner reads their own profile; no INSERT policy (#27); counts change through triggers.
CREATE POLICY profiles_select_own ON profiles FOR SELECT TO maraum_learner
  USING (id = current_learner_id());
-- Staff, ops and the SECURITY DEFINER functions (owned by maraum_staff) reach every row, but
-- only while acting as maraum_staff: a role that merely inherits it gets nothing here.
CREATE POLICY profiles_staff_all ON profiles FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
-- Learners read, never write, their profile.
REVOKE INSERT, UPDATE, DELETE ON profiles FROM maraum_learner;
"""

REVERSE = """
GRANT INSERT, UPDATE, DELETE ON profiles TO maraum_learner;
DROP POLICY IF EXISTS profiles_staff_all ON profiles;
DROP POLICY IF EXISTS profiles_select_own ON profiles;
ALTER TABLE profiles NO FORCE ROW LEVEL SECURITY;
ALTER TABLE profiles DISABLE ROW LEVEL SECURITY;
DROP TRIGGER IF EXISTS update_profiles_updated_at ON profiles;
DROP TRIGGER IF EXISTS on_user_email_changed ON accounts_user;
DROP FUNCTION IF EXISTS sync_profile_email();
DROP TRIGGER IF EXISTS on_user_created ON accounts_user;
DROP FUNCTION IF EXISTS create_profile_for_new_user();
DROP FUNCTION IF EXISTS update_updated_at_column();
DROP FUNCTION IF EXISTS current_learner_id();
DROP FUNCTION IF EXISTS next_week_start(timestamptz);
ALTER TABLE profiles DROP CONSTRAINT IF EXISTS profiles_id_fkey;
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=REVERSE)]
