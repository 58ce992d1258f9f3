from django.contrib.auth.management.commands.createsuperuser import Command as DjangoCommand

from lib.rls import acting_as_staff


class Command(DjangoCommand):
    help = (
        DjangoCommand.help + " Runs as the staff role: the runtime login reaches accounts only"
        " through it (create_staff_user does the same from MARAUM_STAFF_* without prompting)."
    )
    # The runtime login may not read django_migrations; `migrate` runs as the owner.
    requires_migrations_checks = False

    def handle(self, *args, **options):
        with acting_as_staff():
            return super().handle(*args, **options)
