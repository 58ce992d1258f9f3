"""Django's schema commands, as the database owner (DATABASE_OWNER_URL): the runtime login owns
nothing, may not change the schema, and may not even read the migration records."""

from lib.rls import as_owner


class AsOwner:
    help = "Runs as the database owner (DATABASE_OWNER_URL)."

    def handle(self, *args, **options):
        as_owner(options.get("database") or "default")
        return super().handle(*args, **options)
