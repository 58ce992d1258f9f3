"""The balancer's health check (deploy/haproxy.cfg), answered by the event loop itself."""

import contextlib

ALIVE_PATH = "/-/alive"


def answering_the_check(app):
    """`app`, but for the balancer's check, answered before Django (no database, no host
    check): a process whose event loop is stuck no longer answers it, and is taken out. A
    check that only connected kept sending new pages to a frozen process, whose kernel still
    accepted the connections (the attacker's replay)."""

    async def http(scope, receive, send):
        if scope["path"] != ALIVE_PATH:
            await app(scope, receive, send)
            return
        headers = [(b"content-type", b"text/plain"), (b"cache-control", b"no-store")]
        # A check the balancer gave up on (a process resumed after a stop) has no one to
        # answer: Daphne refuses the send, which logged a traceback (the recheck).
        with contextlib.suppress(Exception):
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"alive\n"})

    return http
