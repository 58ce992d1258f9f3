from lib.rls import acting_as_staff


class RunsAsStaff:
    """For Django's own account commands: the runtime login reaches accounts only through the
    staff role, and may not read django_migrations (`migrate` runs as the owner)."""

    requires_migrations_checks = False

    def handle(self, *args, **options):
        with acting_as_staff():
            return super().handle(*args, **options)
