# The deleted accounts' weeks (0020) are read and written only by their owner's functions: the
# staff role could ask of any email "deleted this week, and with how many scenes?" and read
# the digests (the attacker's replay).

from django.db import migrations

FORWARD = """
-- decision 18: a deleted account's week is kept for its email, and ended weeks go.
CREATE FUNCTION remember_deleted_accounts_week(p_email text, p_completed integer) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DELETE FROM deleted_accounts_weeks
  WHERE week_start < next_week_start(now()) - interval '7 days';
  INSERT INTO deleted_accounts_weeks
  SELECT deleted_account_digest(p_email), next_week_start(now()) - interval '7 days', p_completed
  WHERE p_completed > 0
  ON CONFLICT (email_digest) DO UPDATE
    SET week_start = EXCLUDED.week_start, completed = EXCLUDED.completed;
$$;

CREATE OR REPLACE FUNCTION remember_week_of_deleted_user() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM remember_deleted_accounts_week(
    OLD.email::text, (SELECT w.completed FROM learner_week(OLD.id) w));
  RETURN OLD;
END $$;

-- decision 18: a new profile starts its week with what deleted accounts with its email
-- completed in it (was create_profile_for_new_user()'s, which staff's role runs).
CREATE FUNCTION carry_deleted_accounts_week() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  NEW.carried_completions := completions_of_deleted_accounts(NEW.email::text);
  NEW.carried_week_start := next_week_start(now()) - interval '7 days';
  NEW.current_week_completion_count :=
    NEW.current_week_completion_count + NEW.carried_completions;
  RETURN NEW;
END $$;
CREATE TRIGGER carry_deleted_accounts_week BEFORE INSERT ON profiles
  FOR EACH ROW EXECUTE FUNCTION carry_deleted_accounts_week();

CREATE OR REPLACE FUNCTION create_profile_for_new_user() RETURNS trigger
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

ALTER FUNCTION forget_ended_weeks_of_deleted_accounts() OWNER TO CURRENT_USER;
REVOKE ALL ON deleted_accounts_weeks FROM maraum_staff;
REVOKE EXECUTE ON FUNCTION remember_deleted_accounts_week(text, integer),
  carry_deleted_accounts_week() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION deleted_account_digest(text), completions_of_deleted_accounts(text)
  FROM maraum_staff;
GRANT EXECUTE ON FUNCTION remember_deleted_accounts_week(text, integer),
  forget_ended_weeks_of_deleted_accounts() TO maraum_staff;
"""

REVERSE = """
GRANT EXECUTE ON FUNCTION deleted_account_digest(text), completions_of_deleted_accounts(text)
  TO maraum_staff;
GRANT SELECT, INSERT, UPDATE, DELETE ON deleted_accounts_weeks TO maraum_staff;
ALTER FUNCTION forget_ended_weeks_of_deleted_accounts() OWNER TO maraum_staff;
DROP TRIGGER IF EXISTS carry_deleted_accounts_week ON profiles;
DROP FUNCTION IF EXISTS carry_deleted_accounts_week();
CREATE OR REPLACE FUNCTION create_profile_for_new_user() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  carried integer;
BEGIN
  IF NEW.email IS NULL OR btrim(NEW.email::text) = '' THEN
    RAISE EXCEPTION 'Email cannot be empty' USING ERRCODE = 'check_violation';
  END IF;
  carried := completions_of_deleted_accounts(NEW.email::text);
  INSERT INTO profiles (id, email, week_reset_date, current_week_completion_count,
                        carried_completions, carried_week_start)
  VALUES (NEW.id, NEW.email, next_week_start(now()), carried, carried,
          next_week_start(now()) - interval '7 days');
  RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION remember_week_of_deleted_user() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  this_week timestamptz := next_week_start(now()) - interval '7 days';
  this_weeks_count integer := (SELECT w.completed FROM learner_week(OLD.id) w);
BEGIN
  DELETE FROM deleted_accounts_weeks WHERE week_start < this_week;
  IF this_weeks_count > 0 THEN
    INSERT INTO deleted_accounts_weeks
    VALUES (deleted_account_digest(OLD.email::text), this_week, this_weeks_count)
    ON CONFLICT (email_digest) DO UPDATE
      SET week_start = EXCLUDED.week_start, completed = EXCLUDED.completed;
  END IF;
  RETURN OLD;
END $$;
DROP FUNCTION IF EXISTS remember_deleted_accounts_week(text, integer);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("scenarios", "0020_the_week_outlives_the_account"),
        ("accounts", "0009_one_spelling_per_email"),
    ]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=REVERSE)]
