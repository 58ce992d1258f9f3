from django.contrib.auth.management.commands.changepassword import Command as DjangoCommand

from accounts.management.staff_role import RunsAsStaff


class Command(RunsAsStaff, DjangoCommand):
    help = (
        DjangoCommand.help + " Runs as the staff role: the runtime login reaches accounts only"
        " through it. The learner's open chat pages close (a new password ends every login)."
    )
