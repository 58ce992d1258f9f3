"""Serve Maraum with Daphne on uvloop: `python -m maraum.serve [daphne arguments]`.

uvloop's event loop roughly halved the time a loaded server adds to streamed replies
(bench/chat_latency.py); without it (Windows) this is plain Daphne.

Request bodies over MAX_REQUEST_BODY_BYTES are refused (413) before they are read; a websocket
whose client stops reading is dropped once MAX_UNSENT_SOCKET_BYTES wait for it; the database
connections are pooled (DATABASE_POOL, on unless set to false).

SIGTERM stops the server gracefully: it stops listening (a load balancer sends new connections
to the other processes), takes no new chat turns, gives the replies in flight SHUTDOWN_GRACE
seconds to finish and be stored, closes each session's chat sockets with 4012 once none of its
replies streams here (at once for most: the pages reconnect to another process), and exits.
SIGINT (Ctrl+C) stops at once, as Daphne does.
"""

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from urllib.parse import quote, unquote

with contextlib.suppress(ImportError):
    import uvloop

    # Daphne creates its event loop when daphne.server is imported: set the policy first.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

import daphne.http_protocol
import daphne.ws_protocol
import twisted.web.http
from daphne.cli import CommandLineInterface
from daphne.server import Server

from lib.log_filters import without_reset_token
from maraum.alive import ALIVE_PATH
from maraum.socket_limits import BoundedWebSocketProtocol

logger = logging.getLogger("maraum.serve")

# A server keeps its database connections in psycopg's pool: without it every unit of a chat
# turn's database work opened a new connection (one chat's first token: 12 ms added, 5 ms with
# the pool). Commands and tests, short-lived, connect without one (maraum/settings.py).
os.environ.setdefault("DATABASE_POOL", "true")


def _plain_response(status: bytes, text: bytes) -> bytes:
    """A whole response, written before the connection closes."""
    head = b"HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n" % status
    return head + b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(text), text)


TOO_LARGE = _plain_response(b"413 Content Too Large", b"That request is too large.\n")


class BoundedWebRequest(daphne.http_protocol.WebRequest):
    """Refuses a request body over MAX_REQUEST_BODY_BYTES before reading it: at once by its
    declared length, and a chunked body as soon as it passes the limit. Daphne would buffer
    the whole body and then queue all of it to the app in memory; it has no setting for this,
    so its request class is replaced (below)."""

    received = 0
    refused = False

    def gotLength(self, length):
        from django.conf import settings

        if length is not None and length > settings.MAX_REQUEST_BODY_BYTES:
            self._refuse()
        super().gotLength(None if self.refused else length)

    def handleContentChunk(self, data):
        from django.conf import settings

        if self.refused:
            return
        self.received += len(data)
        if self.received > settings.MAX_REQUEST_BODY_BYTES:
            self._refuse()
            return
        super().handleContentChunk(data)

    def process(self):
        if not self.refused:
            super().process()

    def _refuse(self):
        self.refused = True
        self.channel.transport.write(TOO_LARGE)
        self.channel.transport.loseConnection()


daphne.http_protocol.WebRequest = BoundedWebRequest  # what HTTPFactory builds requests with

URI_TOO_LONG = _plain_response(b"414 URI Too Long", b"That address is too long.\n")
HEADERS_TOO_LARGE = _plain_response(
    b"431 Request Header Fields Too Large", b"That request's headers are too large.\n"
)
BAD_REQUEST = _plain_response(b"400 Bad Request", b"That request could not be read.\n")


class BoundedHTTPChannel(twisted.web.http.HTTPChannel):
    """A request line or a header over Twisted's 16 KB is answered (414, 431) before the
    connection closes: Twisted closed it without a word, and a client could not tell why (the
    attacker's replay); headers over 16 KB together get the 431 too, and a request Twisted
    cannot read a 400 with a body (they got a bare 400: the recheck)."""

    def lineLengthExceeded(self, line):
        first = getattr(self, "_HTTPChannel__first_line", False)
        self._answer_and_close(URI_TOO_LONG if first else HEADERS_TOO_LARGE)

    def lineReceived(self, line):
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self._answer_and_close(HEADERS_TOO_LARGE)
            return
        super().lineReceived(line)

    def _respondToBadRequestAndDisconnect(self):
        self._answer_and_close(BAD_REQUEST)

    def _answer_and_close(self, response: bytes) -> None:
        self.transport.write(response)
        self.loseConnection()


daphne.http_protocol.HTTPFactory.protocol = BoundedHTTPChannel


# What Daphne's factory builds websockets with (maraum/socket_limits.py).
daphne.ws_protocol.WebSocketFactory.protocol = BoundedWebSocketProtocol


def without_secrets(details: dict) -> dict:
    """A request as the access log writes it: a reset link's token left out, however its
    path was spelled (percent-encoded, say), and the rest encoded again: decoded, "%0A" began
    a forged line of the log's own, and "%00" wrote a NUL (the attacker's recheck)."""
    path = details.get("path")
    if isinstance(path, str):
        hidden = without_reset_token(unquote(path))
        if hidden != unquote(path):
            return {**details, "path": quote(hidden, safe="/[]")}
    return details


class DrainingServer(Server):
    def run(self):
        from twisted.internet import reactor

        self.ports = []
        self.draining = False
        reactor.callWhenRunning(self._handle_sigterm)
        # What is loaded by now (Django, the app, the SDK's types: about 240,000 objects)
        # lives as long as the process: left out of the cyclic garbage collector's full
        # collections, which had paused a loaded server's event loop for up to 120 ms.
        gc.freeze()
        super().run()

    def log_action(self, protocol, action, details):
        # The balancer's check, every second (maraum/asgi.py): not a request worth a line.
        if details.get("path") == ALIVE_PATH:
            return
        super().log_action(protocol, action, without_secrets(details))

    def listen_success(self, port):
        self.ports.append(port)
        super().listen_success(port)

    def _handle_sigterm(self):
        loop = asyncio.get_event_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(self._drain()))

    async def _drain(self):
        if self.draining:
            return
        self.draining = True
        from django.conf import settings
        from twisted.internet import reactor

        from chat import consumers

        for port in self.ports:
            port.stopListening()
        logger.info("SIGTERM: draining for up to %s s", settings.SHUTDOWN_GRACE)
        interrupted = await consumers.drain(settings.SHUTDOWN_GRACE)
        logger.info("drained; %d replies interrupted", interrupted)
        with contextlib.suppress(TimeoutError):
            await consumers.close_all_sockets()
        reactor.stop()


class MaraumCommandLine(CommandLineInterface):
    server_class = DrainingServer

    def __init__(self):
        super().__init__()
        # Daphne rejects a websocket whose handshake is not answered within 5 s: when 500
        # learners arrive at once, a busy process answers some later, and a page that is let
        # in late does better than one that fails and comes back to a process still as busy.
        self.parser.set_defaults(websocket_connect_timeout=30)


if __name__ == "__main__":
    MaraumCommandLine.entrypoint()
    # The reactor has stopped. A request thread still waiting on the stopped event loop (a
    # page caught mid-request by Ctrl+C) would keep the interpreter from exiting, which joins
    # pool threads at exit: the server is done, so the process ends here.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
