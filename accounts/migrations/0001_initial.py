# Accounts: extensions, the row-level security roles, the user and profile tables.

import accounts.models
import django.db.models.deletion
import django.db.models.functions.datetime
import django.utils.timezone
import django.contrib.postgres.functions
from django.conf import settings
from django.db import migrations, models

import lib.postgres


PRELUDE = """
-- #42: case-insensitive emails (accounts_user.email and profiles.email are citext).
CREATE EXTENSION IF NOT EXISTS citext;

-- #6: pgcrypto where the server ships it; gen_random_uuid() is core since PostgreSQL 13, and the
-- embedded server's build has no pgcrypto, so its absence is not an error.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgcrypto') THEN
    CREATE EXTENSION IF NOT EXISTS pgcrypto;
  END IF;
END $$;

-- Row-level security roles (lib/rls.py). Roles are cluster-wide: the embedded set-up and
-- deploy/database-roles.sql create them, with the memberships the owner and the runtime login
-- need; a migrating role allowed to create roles makes them here otherwise.
-- maraum_learner: what every learner request runs as; sees only the learner set for it.
-- maraum_staff: the admin and ops commands; sees every row. Neither can bypass RLS.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'maraum_learner') THEN
    CREATE ROLE maraum_learner NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'maraum_staff') THEN
    CREATE ROLE maraum_staff NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
  -- The owner hands functions to maraum_staff (SECURITY DEFINER), so it must be a member.
  IF NOT pg_has_role(current_user, 'maraum_staff', 'MEMBER') THEN
    GRANT maraum_learner, maraum_staff TO CURRENT_USER;
  END IF;
END $$;

-- Both use the schema; maraum_staff also owns the SECURITY DEFINER functions, which needs CREATE.
GRANT USAGE ON SCHEMA public TO maraum_learner, maraum_staff;
GRANT CREATE ON SCHEMA public TO maraum_staff;

-- Django's own tables (auth, sessions, admin log, ...) are plain tables for both roles; the
-- learner-owned tables narrow these grants in their own migrations.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO maraum_learner, maraum_staff;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO maraum_learner, maraum_staff;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO maraum_learner, maraum_staff;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO maraum_learner, maraum_staff;

-- Migration bookkeeping is not for the app's roles to change.
REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM maraum_learner, maraum_staff;
"""

PRELUDE_REVERSE = """
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  REVOKE USAGE, SELECT ON SEQUENCES FROM maraum_learner, maraum_staff;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM maraum_learner, maraum_staff;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM maraum_learner, maraum_staff;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM maraum_learner, maraum_staff;
REVOKE ALL ON SCHEMA public FROM maraum_learner, maraum_staff;
-- The roles may still serve another database on this server; drop them only if nothing does.
DO $$
BEGIN
  DROP ROLE IF EXISTS maraum_learner;
  DROP ROLE IF EXISTS maraum_staff;
EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN
  RAISE NOTICE 'maraum roles kept: still in use elsewhere on this server';
END $$;
-- pgcrypto may predate Maraum, so it stays; citext is ours.
DROP EXTENSION IF EXISTS citext;
"""


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunSQL(PRELUDE, reverse_sql=PRELUDE_REVERSE),
        migrations.CreateModel(
            name="User",
            fields=[
                ("password", models.CharField(max_length=128, verbose_name="password")),
                (
                    "last_login",
                    models.DateTimeField(blank=True, null=True, verbose_name="last login"),
                ),
                (
                    "is_superuser",
                    models.BooleanField(
                        default=False,
                        help_text="Designates that this user has all permissions without explicitly assigning them.",
                        verbose_name="superuser status",
                    ),
                ),
                (
                    "id",
                    lib.postgres.RandomUUIDPrimaryKey(),
                ),
                (
                    "email",
                    accounts.models.CIEmailField(
                        max_length=254, unique=True, verbose_name="email address"
                    ),
                ),
                ("is_staff", models.BooleanField(default=False)),
                ("is_active", models.BooleanField(default=True)),
                ("date_joined", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "groups",
                    models.ManyToManyField(
                        blank=True,
                        help_text="The groups this user belongs to. A user will get all permissions granted to each of their groups.",
                        related_name="user_set",
                        related_query_name="user",
                        to="auth.group",
                        verbose_name="groups",
                    ),
                ),
                (
                    "user_permissions",
                    models.ManyToManyField(
                        blank=True,
                        help_text="Specific permissions for this user.",
                        related_name="user_set",
                        related_query_name="user",
                        to="auth.permission",
                        verbose_name="user permissions",
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
            managers=[
                ("objects", accounts.models.UserManager()),
            ],
        ),
        migrations.CreateModel(
            name="Profile",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        db_column="id",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="profile",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("email", accounts.models.CIEmailField(max_length=254, unique=True)),
                ("completed_scenario_count", models.IntegerField(db_default=0, default=0)),
                ("current_week_completion_count", models.IntegerField(db_default=0, default=0)),
                ("week_reset_date", models.DateTimeField()),
                (
                    "created_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "updated_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
            ],
            options={
                "db_table": "profiles",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("completed_scenario_count__gte", 0),
                            ("current_week_completion_count__gte", 0),
                        ),
                        name="profiles_counts_non_negative",
                    )
                ],
            },
        ),
    ]
