"""Maraum's ASGI app, counting every SQL statement, with the count at /__bench__/queries."""

import itertools
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from django.db.backends.signals import connection_created

from maraum.asgi import application as maraum_application

_statements = itertools.count()
_seen = [0]


def _count(execute, sql, params, many, context):
    _seen[0] = next(_statements) + 1
    return execute(sql, params, many, context)


def _install(sender, connection, **kwargs):
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


connection_created.connect(_install)


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/__bench__/queries":
        body = str(_seen[0]).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    await maraum_application(scope, receive, send)
