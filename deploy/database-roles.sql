-- Maraum's roles on a PostgreSQL server of your own (13 or newer), for DATABASE_URL set-ups.
-- Run once, as a superuser, before the first `manage.py migrate`:
--
--   psql "postgres://postgres@db.example/postgres" -v owner=maraum_owner -v app=maraum_app \
--        -v database=maraum -f deploy/database-roles.sql
--
-- then give both logins passwords (ALTER ROLE maraum_app PASSWORD '...') and set
--   DATABASE_URL=postgres://maraum_app:...@db.example/maraum        (what the app runs as)
--   DATABASE_OWNER_URL=postgres://maraum_owner:...@db.example/maraum (what migrate runs as)
-- Every statement is idempotent. The embedded default does the same by itself
-- (maraum/embedded_db.py).

\set ON_ERROR_STOP on
\if :{?owner} \else \set owner maraum_owner \endif
\if :{?app} \else \set app maraum_app \endif
\if :{?database} \else \set database maraum \endif

-- The policy roles (accounts/rls.py): what each request acts as; none may log in.
SELECT format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS', role)
  FROM unnest(ARRAY['maraum_learner', 'maraum_staff', 'maraum_auth']) AS role
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) \gexec

-- The owner: owns the database and everything in it, runs the migrations; may create
-- databases (for the test suite) but no roles.
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'owner')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
ALTER ROLE :"owner" NOCREATEROLE NOSUPERUSER NOBYPASSRLS;

-- The runtime login: owns nothing, inherits nothing, may only switch to a policy role.
SELECT format('CREATE ROLE %I LOGIN NOINHERIT', :'app')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"app" NOINHERIT NOCREATEROLE NOCREATEDB NOSUPERUSER NOBYPASSRLS;

-- The owner hands functions to maraum_staff (SECURITY DEFINER) and may act as each role; the
-- runtime login switches to them one transaction at a time. (On PostgreSQL 16 and newer, the
-- runtime login's NOINHERIT makes these grants INHERIT FALSE.)
GRANT maraum_learner, maraum_staff, maraum_auth TO :"owner";
GRANT maraum_learner, maraum_staff, maraum_auth TO :"app";

SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'owner')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database') \gexec

-- Nothing a learner wrote may reach the server log: no failing statement, no parameters, no
-- DETAIL (a deadlock's quotes the statements involved). Server-wide: skip these four lines if
-- the server logs for others and set them per database instead (ALTER DATABASE ... SET).
ALTER SYSTEM SET log_min_error_statement = 'panic';
ALTER SYSTEM SET log_parameter_max_length_on_error = 0;
ALTER SYSTEM SET log_error_verbosity = 'terse';
ALTER SYSTEM SET log_statement = 'none';
SELECT pg_reload_conf();
