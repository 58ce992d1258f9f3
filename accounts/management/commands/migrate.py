from django.core.management.commands.migrate import Command as DjangoCommand

from accounts.management.owner import AsOwner


class Command(AsOwner, DjangoCommand):
    help = DjangoCommand.help + " " + AsOwner.help
