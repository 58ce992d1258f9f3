# The week's three scenes are the email's, not the account's (the attacker's replay): deleting
# the account and signing up again with the same email gave the week's completions back. A
# deleted account's week is now kept until that week ends, by a salted digest of its email,
# and a new account with that email starts its week with it.

from django.db import migrations

FORWARD = """
-- decision 18: a deleted account's completions of the current week, by a digest of its email
-- (no address is kept), until the week ends. Only the functions below read or write it.
CREATE TABLE deleted_accounts_weeks (
  email_digest bytea PRIMARY KEY,
  week_start timestamptz NOT NULL,
  completed integer NOT NULL CHECK (completed > 0)
);
CREATE TABLE deleted_accounts_weeks_salt (salt text NOT NULL);
INSERT INTO deleted_accounts_weeks_salt SELECT gen_random_uuid()::text || gen_random_uuid()::text;
REVOKE ALL ON deleted_accounts_weeks, deleted_accounts_weeks_salt
  FROM PUBLIC, maraum_learner, maraum_staff, maraum_auth;
GRANT SELECT, INSERT, UPDATE, DELETE ON deleted_accounts_weeks TO maraum_staff;

-- The digest, salted per database: the salt is readable by its owner alone.
CREATE FUNCTION deleted_account_digest(p_email text) RETURNS bytea
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT sha256(convert_to(salt || lower(p_email), 'UTF8')) FROM deleted_accounts_weeks_salt $$;

-- What deleted accounts with this email completed in the current week.
CREATE FUNCTION completions_of_deleted_accounts(p_email text) RETURNS integer
  LANGUAGE sql STABLE SET search_path = public, pg_temp
  AS $$
  SELECT coalesce(sum(completed), 0)::integer FROM deleted_accounts_weeks
  WHERE email_digest = deleted_account_digest(p_email)
    AND week_start = next_week_start(now()) - interval '7 days'
$$;

-- decision 18: a learner's completions in the current week: their sessions', and those an
-- earlier account with their email carried into this week.
CREATE FUNCTION completions_this_week(p_user uuid) RETURNS integer
  LANGUAGE sql STABLE SET search_path = public, pg_temp
  AS $$
  SELECT completions_since(p.id, w.start)
         + CASE WHEN p.carried_week_start = w.start THEN p.carried_completions ELSE 0 END
  FROM profiles p, (SELECT next_week_start(now()) - interval '7 days') AS w (start)
  WHERE p.id = p_user
$$;

-- learner_week() and the count trigger (0005) count the week with completions_this_week().
CREATE OR REPLACE FUNCTION learner_week(p_user uuid, OUT completed integer,
                                        OUT resets_at timestamptz)
  LANGUAGE sql STABLE SET search_path = public, pg_temp
  AS $$
  SELECT CASE WHEN p.week_reset_date > now() THEN p.current_week_completion_count
              ELSE completions_this_week(p.id) END,
         CASE WHEN p.week_reset_date > now() THEN p.week_reset_date
              ELSE next_week_start(now()) END
  FROM profiles p WHERE p.id = p_user
$$;

CREATE OR REPLACE FUNCTION update_profile_completion_counts() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF (TG_OP = 'DELETE' AND OLD.is_completed)
     OR (TG_OP = 'INSERT' AND NEW.is_completed)
     OR (TG_OP = 'UPDATE' AND NEW.is_completed AND NOT OLD.is_completed) THEN
    UPDATE profiles SET
      completed_scenario_count = completions_since(id, '-infinity'),
      current_week_completion_count = completions_this_week(id),
      week_reset_date = next_week_start(now())
    WHERE id = coalesce(NEW.user_id, OLD.user_id);
  END IF;
  RETURN NULL;
END $$;

-- A new account starts its week with what deleted accounts with its email completed in it
-- (was accounts 0002).
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

-- An account's week is kept when it is deleted. Fires after lock_sessions_before_user_delete
-- (BEFORE triggers fire by name), so no completion can land after the count; ended weeks go.
CREATE FUNCTION remember_week_of_deleted_user() RETURNS trigger
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
ALTER FUNCTION remember_week_of_deleted_user() OWNER TO maraum_staff;
CREATE TRIGGER remember_week_before_user_delete BEFORE DELETE ON accounts_user
  FOR EACH ROW EXECUTE FUNCTION remember_week_of_deleted_user();

-- Ended weeks of deleted accounts, forgotten by the weekly reset (and at each deletion).
CREATE FUNCTION forget_ended_weeks_of_deleted_accounts() RETURNS integer
  LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  WITH gone AS (DELETE FROM deleted_accounts_weeks
                WHERE week_start < next_week_start(now()) - interval '7 days' RETURNING 1)
  SELECT count(*)::integer FROM gone
$$;
ALTER FUNCTION forget_ended_weeks_of_deleted_accounts() OWNER TO maraum_staff;

REVOKE EXECUTE ON FUNCTION deleted_account_digest(text), completions_of_deleted_accounts(text),
  completions_this_week(uuid), remember_week_of_deleted_user(),
  forget_ended_weeks_of_deleted_accounts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION deleted_account_digest(text), completions_of_deleted_accounts(text),
  forget_ended_weeks_of_deleted_accounts() TO maraum_staff;
GRANT EXECUTE ON FUNCTION completions_this_week(uuid) TO maraum_learner, maraum_staff;
"""

REVERSE = """
DROP TRIGGER IF EXISTS remember_week_before_user_delete ON accounts_user;
DROP FUNCTION IF EXISTS remember_week_of_deleted_user();
DROP FUNCTION IF EXISTS forget_ended_weeks_of_deleted_accounts();
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
CREATE OR REPLACE FUNCTION update_profile_completion_counts() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF (TG_OP = 'DELETE' AND OLD.is_completed)
     OR (TG_OP = 'INSERT' AND NEW.is_completed)
     OR (TG_OP = 'UPDATE' AND NEW.is_completed AND NOT OLD.is_completed) THEN
    UPDATE profiles SET
      completed_scenario_count = completions_since(id, '-infinity'),
      current_week_completion_count =
        completions_since(id, next_week_start(now()) - interval '7 days'),
      week_reset_date = next_week_start(now())
    WHERE id = coalesce(NEW.user_id, OLD.user_id);
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION learner_week(p_user uuid, OUT completed integer,
                                        OUT resets_at timestamptz)
  LANGUAGE sql STABLE SET search_path = public, pg_temp
  AS $$
  SELECT CASE WHEN p.week_reset_date > now() THEN p.current_week_completion_count
              ELSE completions_since(p.id, next_week_start(now()) - interval '7 days') END,
         CASE WHEN p.week_reset_date > now() THEN p.week_reset_date
              ELSE next_week_start(now()) END
  FROM profiles p WHERE p.id = p_user
$$;
DROP FUNCTION IF EXISTS completions_this_week(uuid);
DROP FUNCTION IF EXISTS completions_of_deleted_accounts(text);
DROP FUNCTION IF EXISTS deleted_account_digest(text);
DROP TABLE IF EXISTS deleted_accounts_weeks_salt;
DROP TABLE IF EXISTS deleted_accounts_weeks;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("scenarios", "0019_free_time_by_what_learners_do"),
        ("accounts", "0007_carried_week"),
    ]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=REVERSE)]
