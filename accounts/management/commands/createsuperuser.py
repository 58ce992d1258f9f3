from django.contrib.auth.management.commands.createsuperuser import Command as DjangoCommand

from accounts.management.staff_role import RunsAsStaff


class Command(RunsAsStaff, DjangoCommand):
    help = (
        DjangoCommand.help + " Runs as the staff role: the runtime login reaches accounts only"
        " through it (create_staff_user does the same from MARAUM_STAFF_* without prompting)."
    )
