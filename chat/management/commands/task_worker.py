"""The background task worker (django-tasks' database worker), connected as maraum_staff: the
task queue and the reports it writes are not the learners' to touch."""

from django.db import connections
from django_tasks_db.management.commands.db_worker import Command as DBWorkerCommand

from lib.rls import STAFF_ROLE


class Command(DBWorkerCommand):
    help = "Run queued background tasks (scene reports) as maraum_staff. " + DBWorkerCommand.help

    def handle(self, *args, **options):
        for connection in connections.all():
            # Every connection the worker opens, also after a reconnect, starts as staff.
            extra = connection.settings_dict.setdefault("OPTIONS", {})
            extra["options"] = f"{extra.get('options', '')} -c role={STAFF_ROLE}".strip()
            connection.close()
        return super().handle(*args, **options)
