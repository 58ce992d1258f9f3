# Logins that hold, throttles, and least privilege for accounts and sessions:
# - current_login_email(): a chat socket re-checks at each turn that its login still holds;
# - throttle buckets: one mechanism (a token bucket per key) for every throttle;
# - the third policy role, maraum_auth, and what each role may touch, column by column.

import django.db.models.expressions
from django.db import migrations, models

CURRENT_LOGIN = """
-- A chat socket outlives the request that opened it: each turn re-checks that the login is
-- still current (the Django session not logged out or expired, the account active), so a
-- logout or deactivation made anywhere (another process, a script, plain SQL) ends it.
-- Returns the learner's email (what the daily model budget is counted by), or NULL.
CREATE FUNCTION current_login_email(p_user uuid, p_session_key text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT email::text FROM accounts_user
    WHERE id = p_user AND is_active
      AND (p_session_key IS NULL OR EXISTS (
             SELECT 1 FROM django_session
             WHERE session_key = p_session_key AND expire_date > now()))
  $$;
ALTER FUNCTION current_login_email(uuid, text) OWNER TO maraum_staff;
REVOKE EXECUTE ON FUNCTION current_login_email(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION current_login_email(uuid, text) TO maraum_learner;
"""

THROTTLES = """
-- One mechanism for every throttle (login, sign-up, password reset, chat messages, the daily
-- model budget): a token bucket per key (a salted hash, never an email or address). A bucket
-- holds up to `capacity` tokens and refills `capacity` tokens per `per_seconds`; a missing
-- row is a full bucket. Not learner data: only the functions below touch it.

-- Take `cost` tokens if the bucket has them (a negative cost gives tokens back). Returns
-- whether they were taken, the tokens left, the seconds until `cost` tokens are there, and
-- whether this refusal is the first in a refill period (so a flood is logged once, not per
-- refused request).
CREATE FUNCTION take_tokens(p_key text, p_capacity double precision,
                            p_per_seconds double precision, p_cost double precision)
  RETURNS TABLE (allowed boolean, tokens_left double precision, retry_after double precision,
                 first_refusal boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_rate double precision := p_capacity / p_per_seconds;
  v_tokens double precision;
  v_logged timestamptz;
BEGIN
  INSERT INTO throttle_buckets AS b (key, tokens) VALUES (p_key, p_capacity)
  ON CONFLICT (key) DO UPDATE SET
    tokens = least(p_capacity,
                   b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * v_rate),
    updated_at = clock_timestamp()
  RETURNING b.tokens, b.refusal_logged_at INTO v_tokens, v_logged;
  IF v_tokens >= p_cost THEN
    UPDATE throttle_buckets SET tokens = least(p_capacity, tokens - p_cost) WHERE key = p_key;
    RETURN QUERY SELECT true, least(p_capacity, v_tokens - p_cost), 0::double precision, false;
  ELSIF v_logged IS NULL OR v_logged < clock_timestamp() - make_interval(secs => p_per_seconds)
  THEN
    UPDATE throttle_buckets SET refusal_logged_at = clock_timestamp() WHERE key = p_key;
    RETURN QUERY SELECT false, v_tokens, (p_cost - v_tokens) / v_rate, true;
  ELSE
    RETURN QUERY SELECT false, v_tokens, (p_cost - v_tokens) / v_rate, false;
  END IF;
END $$;
ALTER FUNCTION take_tokens(text, double precision, double precision, double precision)
  OWNER TO maraum_staff;

-- A bucket filled up again (a successful password reset unlocks the account).
CREATE FUNCTION fill_bucket(p_key text) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ DELETE FROM throttle_buckets WHERE key = p_key $$;
ALTER FUNCTION fill_bucket(text) OWNER TO maraum_staff;

-- decision 6: only the app's roles reach the buckets, through these functions.
REVOKE ALL ON throttle_buckets FROM PUBLIC, maraum_learner;
GRANT SELECT, INSERT, UPDATE, DELETE ON throttle_buckets TO maraum_staff;
REVOKE EXECUTE ON FUNCTION take_tokens(text, double precision, double precision,
                                       double precision) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION fill_bucket(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION take_tokens(text, double precision, double precision,
                                      double precision) TO maraum_learner, maraum_staff;
GRANT EXECUTE ON FUNCTION fill_bucket(text) TO maraum_learner, maraum_staff;
"""

LEAST_PRIVILEGE = """
-- decision 6: the third policy role, for sessions and accounts (lib/rls.py).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'maraum_auth') THEN
    CREATE ROLE maraum_auth NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
  IF NOT pg_has_role(current_user, 'maraum_auth', 'MEMBER') THEN
    GRANT maraum_auth TO CURRENT_USER;
  END IF;
END $$;
GRANT USAGE ON SCHEMA public TO maraum_auth;

-- New tables give learners nothing by default (each migration grants exactly what learner
-- requests need), and new functions are executable by nobody until granted.
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM maraum_learner;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM maraum_learner;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM maraum_learner;

-- Learners never touch accounts, logins or Django's bookkeeping: the logged-in user loads as
-- maraum_auth before a learner request switches role. (Password hashes, staff flags and
-- everybody's sessions were readable or writable by every learner request before.)
REVOKE ALL ON accounts_user, accounts_user_groups, accounts_user_user_permissions, auth_group,
  auth_group_permissions, auth_permission, django_content_type, django_session,
  django_admin_log, django_migrations FROM maraum_learner;
-- #27: learners read their own profile, nothing more.
REVOKE ALL ON profiles FROM maraum_learner;
GRANT SELECT ON profiles TO maraum_learner;

-- maraum_auth: sessions, and accounts column by column: it signs up (never staff: see below),
-- logs in (last_login), resets a password (password only) and deletes an account.
GRANT SELECT, INSERT, UPDATE, DELETE ON django_session TO maraum_auth;
GRANT SELECT, INSERT, DELETE ON accounts_user TO maraum_auth;
GRANT UPDATE (password, last_login) ON accounts_user TO maraum_auth;
GRANT SELECT, DELETE ON accounts_user_groups, accounts_user_user_permissions, django_admin_log
  TO maraum_auth;

-- A user created through maraum_auth (a sign-up) is never staff or superuser.
CREATE FUNCTION prevent_self_made_staff() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF current_user = 'maraum_auth' AND (NEW.is_staff OR NEW.is_superuser) THEN
    RAISE EXCEPTION 'Only staff make staff' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER accounts_user_not_self_made_staff BEFORE INSERT ON accounts_user
  FOR EACH ROW EXECUTE FUNCTION prevent_self_made_staff();

-- Our functions: PUBLIC may execute none; each role what it calls. (Trigger functions need
-- no EXECUTE to fire.)
REVOKE EXECUTE ON FUNCTION next_week_start(timestamptz), current_learner_id(),
  update_updated_at_column(), create_profile_for_new_user(), sync_profile_email(),
  current_login_email(uuid, text),
  take_tokens(text, double precision, double precision, double precision),
  fill_bucket(text), prevent_self_made_staff() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION current_learner_id(), next_week_start(timestamptz)
  TO maraum_learner, maraum_staff;
GRANT EXECUTE ON FUNCTION take_tokens(text, double precision, double precision,
                                      double precision) TO maraum_auth;
REVOKE EXECUTE ON FUNCTION fill_bucket(text) FROM maraum_learner;
GRANT EXECUTE ON FUNCTION fill_bucket(text) TO maraum_auth;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_profiles_sql"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            CURRENT_LOGIN,
            reverse_sql="""
DROP FUNCTION IF EXISTS current_login_email(uuid, text);
""",
        ),
        migrations.CreateModel(
            name="ThrottleBucket",
            fields=[
                ("key", models.TextField(primary_key=True, serialize=False)),
                ("tokens", models.FloatField()),
                (
                    "updated_at",
                    models.DateTimeField(
                        db_default=django.db.models.expressions.Func(function="clock_timestamp")
                    ),
                ),
                ("refusal_logged_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"db_table": "throttle_buckets"},
        ),
        migrations.RunSQL(
            THROTTLES,
            reverse_sql="""
DROP FUNCTION IF EXISTS fill_bucket(text);
DROP FUNCTION IF EXISTS take_tokens(text, double precision, double precision, double precision);
""",
        ),
        migrations.RunSQL(
            LEAST_PRIVILEGE,
            reverse_sql="""
GRANT EXECUTE ON FUNCTION fill_bucket(text) TO maraum_learner;
DROP TRIGGER IF EXISTS accounts_user_not_self_made_staff ON accounts_user;
DROP FUNCTION IF EXISTS prevent_self_made_staff();
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM maraum_auth;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO maraum_learner;
REVOKE INSERT, UPDATE, DELETE ON profiles, django_migrations FROM maraum_learner;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO maraum_learner;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO maraum_learner;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO maraum_learner;
REVOKE USAGE ON SCHEMA public FROM maraum_auth;
""",
        ),
    ]
