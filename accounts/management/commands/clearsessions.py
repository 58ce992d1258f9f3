from django.contrib.sessions.management.commands.clearsessions import Command as DjangoCommand

from lib.rls import acting_as_auth


class Command(DjangoCommand):
    help = (
        DjangoCommand.help + " Runs as the auth role, the one that reaches login sessions;"
        " `cleanup` does the same every hour."
    )

    def handle(self, *args, **options):
        with acting_as_auth():
            return super().handle(*args, **options)
