"""The background task worker (django-tasks' database worker), connected as maraum_staff: the
task queue and the reports it writes are not the learners' to touch. It outlives the database
going away (a restart): it waits and starts again, where django-tasks' worker ended for good
and scene reports stayed "being written" until someone started it again. As it starts, it asks
again for card meanings whose task went with a worker killed mid-call."""

import contextlib
import logging
import time

from django.db import InterfaceError, OperationalError, connections
from django_tasks_db.management.commands.db_worker import Command as DBWorkerCommand

from chat import tasks
from lib.rls import STAFF_ROLE

logger = logging.getLogger(__name__)


class Command(DBWorkerCommand):
    help = (
        "Run queued background tasks (scene reports, card meanings) as maraum_staff. "
        + DBWorkerCommand.help
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--reconnect-every",
            type=float,
            default=5.0,
            help="seconds between tries to reach the database once it has gone (default 5)",
        )

    def handle(self, *args, reconnect_every: float, **options):
        for connection in connections.all():
            # Every connection the worker opens, also after a reconnect, starts as staff.
            extra = connection.settings_dict.setdefault("OPTIONS", {})
            extra["options"] = f"{extra.get('options', '')} -c role={STAFF_ROLE}".strip()
            connection.close()
        while True:
            try:
                tasks.ask_again_for_lost_meanings()
                return super().handle(*args, **options)
            except (OperationalError, InterfaceError) as error:
                logger.warning(
                    "the task worker lost the database (%s): trying again in %s s",
                    type(error).__name__,
                    reconnect_every,
                )
                for connection in connections.all():
                    with contextlib.suppress(Exception):
                        connection.close()
                time.sleep(reconnect_every)
