"""The database's word that a learner's password or active flag changed, wherever it was
changed (accounts migration 0012): set from the command line, a shell or SQL, it reached no
server, and another login's socket that only listened went on receiving the conversation
(the attacker's recheck). Each server process listens on a connection of its own while it
has chat sockets; that learner's sockets here close, as for the notices Django's own saves
send: 4401 for an account deactivated, 4011 for a new password (they connect again, and the
handshake checks their login as Django checks a page's). A login deleted before it expired
(accounts migration 0013: a log-out, a new key, SQL) closes its own sockets if it no longer
holds, with 4011 too."""

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable

import psycopg
from django.db import connections

logger = logging.getLogger(__name__)

CHANNEL = "maraum_login_changes"
EVERY_LOGIN = "*"
READY_WAIT = 2.0  # a socket's handshake waits at most this long for the first LISTEN
RECONNECT_AFTER = 2.0  # seconds, after the listening connection failed

_listener: asyncio.Task | None = None
_ready: asyncio.Event | None = None
_listening_since: float | None = None  # time.monotonic() once LISTEN took hold; None meanwhile
_heard_at: dict[str, float] = {}  # learner id or login name → when last heard of a change
REMEMBERED_FOR = 60.0  # seconds: longer than any handshake takes


def changed_since(whose: str, moment: float) -> bool:
    """Whether a change to a learner's login (or to one login, by its name) was heard at
    `moment` (time.monotonic()) or later: a socket whose handshake read the login before a
    change it heard of while not yet among the learner's sockets stayed open, receiving (the
    attacker's recheck)."""
    return _heard_at.get(whose, -math.inf) >= moment


def heard_everything_since(moment: float) -> bool:
    """Whether this process has listened since `moment` (time.monotonic()) without a break: a
    socket whose handshake read its login before then may have missed a change made between
    (the process's first socket, whose login was deleted as it opened, stayed open receiving:
    the attacker's recheck), and checks its login itself."""
    return _listening_since is not None and _listening_since <= moment


def _heard(whose: str) -> None:
    now = time.monotonic()
    for earlier, at in list(_heard_at.items()):
        if at < now - REMEMBERED_FOR:
            del _heard_at[earlier]
    _heard_at[whose] = now


async def keep_listening(sockets_of: Callable[[str], Iterable], learners: Callable[[], list]):
    """Listens from this process's first socket until its last has gone (`stop`); returns
    once the database listens, so a change made after a socket opened is heard."""
    global _listener, _ready
    loop = asyncio.get_running_loop()
    if (
        _listener is None
        or _listener.done()
        or _listener.cancelling()  # stopped as the last socket went, just before this one came
        or _listener.get_loop() is not loop
    ):
        _ready = asyncio.Event()
        _listener = loop.create_task(_listen(sockets_of, learners, _ready))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(READY_WAIT):
            await _ready.wait()


def stop() -> None:
    """The process's last socket has gone: its listening connection closes."""
    if _listener is not None and not _listener.done():
        _listener.cancel()


async def _listen(sockets_of, learners, ready: asyncio.Event) -> None:
    global _listening_since
    unheard = False  # a change may have been made while the connection was lost
    try:
        while learners():
            await _listen_once(sockets_of, learners, ready, unheard)
            unheard = True
    finally:
        _listening_since = None


async def _listen_once(sockets_of, learners, ready: asyncio.Event, unheard: bool) -> None:
    global _listening_since
    try:
        async with await psycopg.AsyncConnection.connect(_conninfo(), autocommit=True) as db:
            await db.execute(f"LISTEN {CHANNEL}")
            _listening_since = time.monotonic()
            ready.set()
            if unheard:
                await _check_every_login(sockets_of, learners)
            async for notice in db.notifies():
                # A learner's id, a login's name (chat.consumers.login_group), or every
                # login ("*": the logins emptied, accounts 0015).
                whose, _, change = notice.payload.partition(":")
                _heard(whose)
                if whose == EVERY_LOGIN:
                    await _check_every_login(sockets_of, learners)
                for socket in list(sockets_of(whose)):
                    await _close(socket, change)
    except Exception as error:  # the database away: connects again, as the pool does
        _listening_since = None
        ready.set()  # handshakes go on meanwhile
        logger.warning("listening for login changes failed: %s", type(error).__name__)
        await asyncio.sleep(RECONNECT_AFTER)


async def _check_every_login(sockets_of, learners) -> None:
    """After the connection was lost, or every login went: each socket here whose login no
    longer holds closes."""
    for socket in [socket for learner in learners() for socket in list(sockets_of(learner))]:
        try:
            await socket.close_unless_login_holds()
        except Exception as error:  # the next reconnect checks again
            logger.warning("checking a socket's login failed: %s", type(error).__name__)


async def _close(socket, change: str) -> None:
    """As the notices Django's own saves send do (which may have closed it already). A login
    deleted (accounts 0013) may be the key a log-in or a new password replaced, on the page
    that chose it: the socket closes if its login no longer holds, and connects again."""
    try:
        if change == "deactivated":
            await socket.login_ended({})
        elif change == "ended":  # or ends sooner (accounts 0014)
            await socket.recheck_login()
        else:
            await socket.password_changed({})
    except Exception as error:  # this socket only: the others are told, and the listening goes on
        logger.warning("closing a socket for a login change failed: %s", type(error).__name__)


def _conninfo() -> str:
    """The server's own connection settings, all of them (a client certificate, a timeout,
    several hosts: the attacker's recheck), but the driver's objects."""
    params = connections["default"].get_connection_params()
    kept = {
        key: value
        for key, value in params.items()
        if isinstance(value, str | int) and key not in _DRIVER_SETTINGS
    }
    return psycopg.conninfo.make_conninfo("", **kept)


_DRIVER_SETTINGS = {"cursor_factory", "context", "prepare_threshold", "server_side_binding"}
