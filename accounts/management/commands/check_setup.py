import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from accounts.rls import LEARNER_ROLE, STAFF_ROLE, acting_as_staff

LEARNER_TABLES = ("profiles", "sessions", "messages", "logs")


class Command(BaseCommand):
    help = (
        "Check that this deployment is set up safely: the database server and migrations, the "
        "login role (warns if superuser or BYPASSRLS), row-level security enabled and forced on "
        f"{', '.join(LEARNER_TABLES)}, the {LEARNER_ROLE}/{STAFF_ROLE} roles, the channel layer "
        "and whether an Anthropic key is configured (never printed). Exits non-zero when a "
        "check fails."
    )

    def handle(self, *args, **options):
        self.failures, self.warnings = 0, 0
        try:
            self._check_database()
        except DatabaseError as error:
            self._fail(f"database: {error}".strip())
        self._check_channel_layer()
        self._check_anthropic_key()
        if self.failures:
            raise CommandError(
                f"{self.failures} check(s) failed, {self.warnings} warning(s): see above."
            )
        return f"All checks passed ({self.warnings} warning(s))."

    def _check_database(self) -> None:
        with acting_as_staff(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('server_version'), current_database(), session_user,"
                " r.rolsuper, r.rolbypassrls, current_user"
                " FROM pg_roles r WHERE r.rolname = session_user"
            )
            version, database, login, superuser, bypassrls, acting = cursor.fetchone()
            host = connection.settings_dict.get("HOST") or "local socket"
            self._ok(f"database: PostgreSQL {version}, {database} on {host}, login role {login}")
            if int(version.split(".")[0]) < 13:
                self._fail("database: PostgreSQL 13 or newer is required")
            if superuser or bypassrls:
                self._warn(
                    f"login role {login} is {'a superuser' if superuser else 'BYPASSRLS'}: the "
                    "app still switches to the unprivileged roles, but prefer an ordinary owner "
                    "role in production"
                )
            else:
                self._ok(f"login role {login} is neither superuser nor BYPASSRLS")
            if acting == STAFF_ROLE:
                self._ok(f"acting_as_staff() switches to {STAFF_ROLE}")
            else:
                self._fail(f"acting_as_staff() runs as {acting}, not {STAFF_ROLE}")

            cursor.execute(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
                " WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s)",
                [list(LEARNER_TABLES)],
            )
            found = {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}
            for table in LEARNER_TABLES:
                enabled, forced = found.get(table, (False, False))
                if enabled and forced:
                    self._ok(f"row-level security enabled and forced on {table}")
                else:
                    state = (
                        "no such table" if table not in found else "enabled" if enabled else "off"
                    )
                    self._fail(
                        f"row-level security on {table}: {state}{'' if forced else ', not forced'}"
                    )

            cursor.execute(
                "SELECT rolname, rolsuper OR rolbypassrls, pg_has_role(session_user, oid, 'MEMBER')"
                " FROM pg_roles WHERE rolname = ANY(%s)",
                [[LEARNER_ROLE, STAFF_ROLE]],
            )
            roles = {name: (privileged, member) for name, privileged, member in cursor.fetchall()}
            for role in (LEARNER_ROLE, STAFF_ROLE):
                if role not in roles:
                    self._fail(f"role {role} does not exist (run migrate)")
                elif roles[role][0]:
                    self._fail(f"role {role} is superuser or BYPASSRLS: policies do not hold")
                elif not roles[role][1]:
                    self._fail(f"login role {login} cannot switch to {role}")
                else:
                    self._ok(f"role {role} exists, unprivileged, reachable from {login}")

        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            self._fail(f"{len(pending)} migration(s) not applied: run manage.py migrate")
        else:
            self._ok("all migrations applied")

    def _check_channel_layer(self) -> None:
        backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
        if backend.endswith("InMemoryChannelLayer"):
            self._warn(f"channel layer {backend}: one process only (set REDIS_URL for more)")
        else:
            self._ok(f"channel layer {backend}")

    def _check_anthropic_key(self) -> None:
        if os.environ.get("ANTHROPIC_API_KEY", "").strip():
            self._ok("Anthropic API key is configured (ANTHROPIC_API_KEY)")
        else:
            self._warn("ANTHROPIC_API_KEY is not set: the chat cannot reach the model")

    def _ok(self, text: str) -> None:
        self.stdout.write(f"ok    {text}")

    def _warn(self, text: str) -> None:
        self.warnings += 1
        self.stdout.write(self.style.WARNING(f"WARN  {text}"))

    def _fail(self, text: str) -> None:
        self.failures += 1
        self.stdout.write(self.style.ERROR(f"FAIL  {text}"))
