from django.core.management.commands.showmigrations import Command as DjangoCommand

from accounts.management.owner import AsOwner


class Command(AsOwner, DjangoCommand):
    help = DjangoCommand.help + " " + AsOwner.help
