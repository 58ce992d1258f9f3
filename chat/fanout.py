"""Frames to every tab of a session, whichever process its socket is on.

A tab's socket joins its session here. A frame goes straight to this process's tabs of the
session, with no channel-layer round trip per frame. With REDIS_URL the session also has a
Redis channel, which every process with a tab of the session (or a reply of it streaming)
subscribes to. Redis commands leave in batches: what is queued while one batch is on its way
leaves in the next, so under load the batches grow instead of the round trips.

Most frames of a reply are its text deltas, and most sessions have all their tabs on one
process, so deltas go to Redis only while another process has said it has a tab of the session:

- a tab joining says *hello* on the session's channel; every process there answers *here*;
- a process whose last tab has left (and whose replies of the session are done) says *bye*;
- a hello, or a *here* from a process not heard before, may mean a tab elsewhere lacks the
  text so far of a reply streaming here: `arrivals()` changes, and the reply's sender
  publishes its bubble with the text so far (chat.replies) before the next delta.

The other frames (a learner's message, a reply's bubble, its end) always go to Redis: they are
few, and a tab joining as one is sent must not miss it. A process that dies without a bye is
only sent deltas no one reads. Without Redis there is one process, and all of this is local.

Control messages (a login or session ended) still go through the channel layer's groups: they
are rare, and the layer reaches every process.
"""

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from channels.layers import get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)

PROCESS = uuid.uuid4().hex[:12]  # tells the processes' messages apart on a session's channel
HELLO, HERE, BYE = "\x00hello", "\x00here", "\x00bye"  # never the start of a frame (HTML, JSON)


class Tab(Protocol):
    async def push(self, html: str) -> None:
        """Send one frame to the page, in the order pushed."""

    async def catch_up(self) -> None:
        """Draw the page again from the database: frames from elsewhere may have been lost."""


@dataclass(eq=False)
class _Session:
    """This process's part in one session."""

    tabs: set = field(default_factory=set)
    streaming: int = 0  # its replies being sent from this process
    subscribed: asyncio.Future | None = None
    subscribing_again: asyncio.Task | None = None  # after a failed subscribe (Redis away)
    peers: set[str] = field(default_factory=set)  # other processes with a tab of it
    arrivals: int = 0  # how often a tab elsewhere may have come without a reply's text so far
    wakes: set = field(default_factory=set)  # the asyncio.Events of its senders, set on arrival


def frames_channel(session_id) -> str:
    return f"maraum:frames:{session_id}"


async def join(session_id, tab: Tab) -> None:
    """From now on the tab gets the session's frames (from any process, once this returns)."""
    hub = _hub()
    session = hub.session(session_id)
    session.tabs.add(tab)
    if hub.redis:
        await _subscribe(hub, str(session_id), session)
        hub.redis.queue("PUBLISH", frames_channel(session_id), PROCESS + HELLO)


def leave(session_id, tab: Tab) -> None:
    hub = _hub()
    session = hub.sessions.get(str(session_id))
    if session is not None:
        session.tabs.discard(tab)
        _forget_if_done(hub, str(session_id), session)


@contextlib.asynccontextmanager
async def streaming(session_id, wake: asyncio.Event | None = None):
    """Around the sending of a reply's frames: the process stays on the session's channel,
    to hear of tabs joining elsewhere, even after its own tabs have left; `wake` is set when
    one may have (a sender waiting for a first token would not see it until then)."""
    hub = _hub()
    session_id = str(session_id)
    session = hub.session(session_id)
    session.streaming += 1
    if wake is not None:
        session.wakes.add(wake)
    try:
        if hub.redis and session.subscribed is None:  # its tab left as the turn was taken
            await _subscribe(hub, session_id, session)
            hub.redis.queue("PUBLISH", frames_channel(session_id), PROCESS + HELLO)
        yield
    finally:
        session.streaming -= 1
        session.wakes.discard(wake)
        _forget_if_done(hub, session_id, session)


def crosses_processes() -> bool:
    """Frames reach other processes (Redis): a tab may move to another one mid-reply."""
    return _hub().redis is not None


def tabs_of(session_id) -> set:
    session = _hub().sessions.get(str(session_id))
    return set(session.tabs) if session else set()


def session_ids() -> list[str]:
    """The sessions this process has tabs of (or streams to)."""
    return list(_hub().sessions)


def all_tabs() -> set:
    return {tab for session in _hub().sessions.values() for tab in session.tabs}


def ask_for_text(session_id) -> None:
    """A tab here drew a reply streaming elsewhere as waiting (its sync): the streaming
    process is to send the text so far again, as for a tab joining."""
    hub = _hub()
    if hub.redis:
        hub.redis.queue("PUBLISH", frames_channel(session_id), PROCESS + HELLO)


def arrivals(session_id) -> int:
    """Changes when a tab of the session may have joined elsewhere without a reply's text."""
    session = _hub().sessions.get(str(session_id))
    return session.arrivals if session else 0


async def publish(session_id, html: str) -> None:
    """Send a frame to every tab of the session."""
    hub = _hub()
    session = hub.sessions.get(str(session_id))
    if session:
        await _push(session.tabs, html)
    if hub.redis:
        hub.redis.queue("PUBLISH", frames_channel(session_id), PROCESS + html)


async def publish_delta(session_id, html: str) -> None:
    """Send a reply's text delta to every tab of the session: to other processes only while
    one of them has a tab of it."""
    hub = _hub()
    session = hub.sessions.get(str(session_id))
    if session:
        await _push(session.tabs, html)
        if session.peers:
            hub.redis.queue("PUBLISH", frames_channel(session_id), PROCESS + html)


def publish_elsewhere(session_id, html: str) -> None:
    """Send a frame to the session's tabs in other processes only (a reply's text so far)."""
    hub = _hub()
    session = hub.sessions.get(str(session_id))
    if session and session.peers:
        hub.redis.queue("PUBLISH", frames_channel(session_id), PROCESS + html)


async def close() -> None:
    """Close this event loop's Redis connections (a test's loop, a stopping server's)."""
    hub = _hubs.pop(_loop_id(), None)
    if hub and hub.redis:
        await hub.redis.close()


async def _subscribe(hub, session_id: str, session: _Session) -> None:
    if session.subscribed is None:
        session.subscribed = asyncio.ensure_future(hub.redis.subscribe(frames_channel(session_id)))
    try:
        await asyncio.shield(session.subscribed)
    except Exception as error:  # this process's frames still reach the tab
        logger.warning("subscribing to a session's frames failed: %r", error)
        session.subscribed = None
        if session.subscribing_again is None or session.subscribing_again.done():
            session.subscribing_again = asyncio.get_running_loop().create_task(
                _subscribe_again(hub, session_id, session)
            )


async def _subscribe_again(hub, session_id: str, session: _Session) -> None:
    """Redis was away as a tab joined: redis-py subscribes again after a reconnect only to the
    channels it has, so the session's frames from other processes never reached this process
    again (the attacker's replay). Tried until it works, or the session is left here; then as
    after any reconnect: its tabs catch up, and the others send their replies' text so far."""
    delay = 0.5
    while hub.sessions.get(session_id) is session and not hub.redis.closed:
        await asyncio.sleep(delay)
        if session.subscribed is None:
            channel = frames_channel(session_id)
            session.subscribed = asyncio.ensure_future(hub.redis.subscribe(channel))
        try:
            await asyncio.shield(session.subscribed)
        except Exception:  # said once already
            session.subscribed = None
            delay = min(2 * delay, 5.0)
            continue
        _resubscribed(hub, session_id)
        return


def _resubscribed(hub, session_id: str) -> None:
    """The receiving connection was lost and redis-py subscribed again: frames published
    meanwhile are lost, so every process (this one too) sends its replies' text so far again,
    and this process's tabs of the session catch up (a reply finished meanwhile elsewhere, and
    its tabs here kept its stream unfinished; found by the recheck replay). A channel of a
    session this process has left (its unsubscribe failed) is left now."""
    session = hub.sessions.get(session_id)
    if session is None:
        hub.redis.unsubscribe(frames_channel(session_id))
        return
    for tab in list(session.tabs):
        asyncio.get_running_loop().create_task(_catch_up(tab))
    _arrived(session)
    hub.redis.queue("PUBLISH", frames_channel(session_id), PROCESS + HELLO)
    _renew_layer_groups(hub)


def _renew_layer_groups(hub) -> None:
    """Redis dropped this link: it may have restarted, and forgotten the channel layer's group
    memberships too, which the layer would notice only at its next renewal (up to 30 s in
    which a log-out went into an empty Redis and was lost: found by the recheck replay). Once
    a reconnect: redis-py subscribes again to every session's channel at once."""
    renew = getattr(get_channel_layer(), "renew_memberships", None)
    if renew is not None and (hub.renewing is None or hub.renewing.done()):
        hub.renewing = asyncio.get_running_loop().create_task(renew())


def _forget_if_done(hub, session_id: str, session: _Session) -> None:
    if session.tabs or session.streaming or hub.sessions.get(session_id) is not session:
        return
    del hub.sessions[session_id]
    if session.subscribed is not None:
        hub.redis.queue("PUBLISH", frames_channel(session_id), PROCESS + BYE)
        hub.redis.unsubscribe(frames_channel(session_id))


async def _catch_up(tab: Tab) -> None:
    try:
        await tab.catch_up()
    except Exception as error:  # a tab closing meanwhile (its sync went out after its close)
        logger.info("a tab's catch-up failed: %s", type(error).__name__)


async def _push(tabs, html: str) -> None:
    for tab in list(tabs):
        try:
            await tab.push(html)
        except Exception as error:  # a socket closing as it is written to: the others go on
            logger.info("a frame to a closing tab was dropped: %s", type(error).__name__)


def _arrived(session: _Session) -> None:
    session.arrivals += 1
    for wake in session.wakes:
        wake.set()


def _heard(hub, session_id: str, sender: str, text: str) -> str | None:
    """A message from another process on a session's channel: the frame to push, if it is one."""
    session = hub.sessions.get(session_id)
    if session is None:  # this process is leaving the channel
        return None
    if text == HELLO:
        session.peers.add(sender)
        _arrived(session)
        hub.redis.queue("PUBLISH", frames_channel(session_id), PROCESS + HERE)
    elif text == HERE:
        if sender not in session.peers:
            session.peers.add(sender)
            _arrived(session)
    elif text == BYE:
        session.peers.discard(sender)
    else:
        return text
    return None


class _Hub:
    """One event loop's sessions and its Redis link."""

    def __init__(self) -> None:
        self.sessions: dict[str, _Session] = {}
        self.redis = _RedisLink(settings.REDIS_URL, self) if settings.REDIS_URL else None
        self.renewing: asyncio.Task | None = None  # the channel layer's groups written again

    def session(self, session_id) -> _Session:
        session_id = str(session_id)
        session = self.sessions.get(session_id)
        if session is None:
            session = self.sessions[session_id] = _Session()
        return session


_hubs: dict[int, _Hub] = {}


def _loop_id() -> int:
    return id(asyncio.get_running_loop())


def _hub() -> _Hub:
    key = _loop_id()
    hub = _hubs.get(key)
    if hub is None:
        hub = _hubs[key] = _Hub()
    return hub


class _RedisLink:
    """Two connections: one sends the queued commands in batches, one receives the messages
    of the sessions this process has tabs (or replies streaming) of."""

    def __init__(self, url: str, hub: _Hub) -> None:
        import redis.asyncio

        self.hub = hub
        self.closed = False
        self.client = redis.asyncio.Redis.from_url(
            url,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            client_name=f"maraum-frames-{PROCESS}",  # who is who in CLIENT LIST
        )
        self.pubsub = self.client.pubsub()
        self.outbox: list[tuple] = []
        self.sending: asyncio.Task | None = None
        self.receiving: asyncio.Task | None = None
        self.subscribing: dict[str, asyncio.Future] = {}
        self.lock = asyncio.Lock()  # subscribe and unsubscribe, one at a time
        self.failing: set[str] = (
            set()
        )  # what fails now ("send", "read"): logged once until it works

    def _failed(self, what: str, message: str, *args) -> None:
        """A failure logged once while it lasts (Redis away for 30 s logged a hundred)."""
        if what not in self.failing:
            self.failing.add(what)
            logger.warning(message + " (said once until it works again)", *args)

    def queue(self, *command) -> None:
        self.outbox.append(command)
        if self.sending is None or self.sending.done():
            self.sending = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self.outbox:
            batch, self.outbox = self.outbox, []
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for command in batch:
                        pipe.execute_command(*command)
                    await pipe.execute()
                self.failing.discard("send")
            except Exception as error:  # the tabs on this process still get their frames
                self._failed("send", "sending %d frames to Redis failed: %s", len(batch), error)

    async def subscribe(self, channel: str) -> None:
        """Subscribe, and return once Redis has confirmed it: frames published after this
        returns reach this process."""
        confirmed = asyncio.get_running_loop().create_future()
        try:
            async with self.lock:
                self.subscribing[channel] = confirmed
                await self.pubsub.subscribe(channel)
                if self.receiving is None or self.receiving.done():
                    self.receiving = asyncio.get_running_loop().create_task(self._receive())
            await asyncio.wait_for(asyncio.shield(confirmed), timeout=5)
        finally:
            if self.subscribing.get(channel) is confirmed and not confirmed.done():
                del self.subscribing[channel]  # failed: none waits for this confirmation

    def unsubscribe(self, channel: str) -> None:
        async def unsubscribe():
            async with self.lock:
                try:
                    await self.pubsub.unsubscribe(channel)
                except Exception as error:  # left once redis-py subscribes it again
                    logger.warning("unsubscribing from a session's frames failed: %s", error)

        asyncio.get_running_loop().create_task(unsubscribe())

    async def _receive(self) -> None:
        own = PROCESS.encode()
        while not self.closed:
            try:
                message = await self.pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # redis-py may turn a cancellation into one of these
                if self.closed:
                    return
                self._failed("read", "reading frames from Redis failed: %s", error)
                await asyncio.sleep(1)
                continue
            self.failing.discard("read")
            if message is None:
                continue
            channel = message["channel"].decode()
            session_id = channel.rsplit(":", 1)[1]
            if message["type"] == "subscribe":
                confirmed = self.subscribing.pop(channel, None)
                if confirmed is None:  # not asked for: redis-py's own, after a reconnect
                    _resubscribed(self.hub, session_id)
                elif not confirmed.done():
                    confirmed.set_result(None)
            elif message["type"] == "message" and not message["data"].startswith(own):
                sender, text = message["data"][: len(own)].decode(), message["data"][len(own) :]
                html = _heard(self.hub, session_id, sender, text.decode())
                session = self.hub.sessions.get(session_id)
                if html is not None and session:
                    await _push(session.tabs, html)

    async def close(self) -> None:
        self.closed = True
        if self.sending and not self.sending.done():  # the last frames first
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sending, timeout=2)
        for task in (self.sending, self.receiving):
            if task and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, timeout=2)
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()
        with contextlib.suppress(Exception):
            await self.client.aclose()
