"""Frames to every tab of a session, whichever process its socket is on.

A tab's socket joins its session here. A frame goes straight to this process's tabs of the
session, with no channel-layer round trip per frame. With REDIS_URL it also goes onto the
session's Redis channel, which every other process with a tab of that session subscribes to
(and this process ignores its own frames coming back). Redis commands leave in batches: what
is queued while one batch is on its way leaves in the next, so under load the batches grow
instead of the round trips.

Redis also keeps each streaming reply's text so far, so a tab that (re)connects to another
process draws the reply mid-stream and follows the rest. Without Redis there is one process,
and its replies are in chat.replies.

Control messages (a login or session ended) still go through the channel layer's groups: they
are rare, and the layer reaches every process.
"""

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

PROCESS = uuid.uuid4().hex[:12]  # tells this process's frames apart when Redis echoes them
TEXT_KEPT_FOR = 60  # seconds a reply's text outlives its last frame in Redis (if never ended)


class Tab(Protocol):
    async def push(self, html: str) -> None:
        """Send one frame to the page, in the order pushed."""


@dataclass(frozen=True)
class ReplyElsewhere:
    """A reply streaming in another process, as far as Redis has its text."""

    reply_id: str
    text: str


def frames_channel(session_id) -> str:
    return f"maraum:frames:{session_id}"


def text_key(session_id, chat: str) -> str:
    return f"maraum:reply-text:{session_id}:{chat}"


async def join(session_id, tab: Tab) -> None:
    """From now on the tab gets the session's frames (from any process, once this returns)."""
    hub = _hub()
    session_id = str(session_id)
    hub.tabs[session_id].add(tab)
    if hub.redis:
        subscribed = hub.subscriptions.get(session_id)
        if subscribed is None:
            subscribed = asyncio.ensure_future(hub.redis.subscribe(frames_channel(session_id)))
            hub.subscriptions[session_id] = subscribed
        try:
            await asyncio.shield(subscribed)
        except Exception as error:  # this process's frames still reach the tab
            logger.warning("subscribing to a session's frames failed: %r", error)


def leave(session_id, tab: Tab) -> None:
    hub = _hub()
    session_id = str(session_id)
    tabs = hub.tabs.get(session_id)
    if tabs is None:
        return
    tabs.discard(tab)
    if not tabs:
        del hub.tabs[session_id]
        if hub.subscriptions.pop(session_id, None):
            hub.redis.unsubscribe(frames_channel(session_id))


def tabs_of(session_id) -> set:
    return set(_hub().tabs.get(str(session_id), ()))


def all_tabs() -> set:
    return {tab for tabs in _hub().tabs.values() for tab in tabs}


async def publish(session_id, html: str) -> None:
    """Send a frame to every tab of the session."""
    hub = _hub()
    await _push(hub.tabs.get(str(session_id), ()), html)
    if hub.redis:
        hub.redis.queue("PUBLISH", frames_channel(session_id), PROCESS + html)


def keep_text(session_id, chat: str, reply_id: str, text: str) -> None:
    """Record a streaming reply's text so far, for tabs that connect to another process."""
    hub = _hub()
    if hub.redis:
        value = json.dumps({"reply": reply_id, "text": text}, ensure_ascii=False)
        hub.redis.queue("SET", text_key(session_id, chat), value, "EX", TEXT_KEPT_FOR)


def drop_text(session_id, chat: str) -> None:
    hub = _hub()
    if hub.redis:
        hub.redis.queue("DEL", text_key(session_id, chat))


async def replies_elsewhere(session_id, chats) -> dict[str, ReplyElsewhere]:
    """The text so far of replies streaming in other processes, by chat (those Redis has)."""
    hub = _hub()
    chats = list(chats)
    if not (hub.redis and chats):
        return {}
    values = await hub.redis.read(*(text_key(session_id, chat) for chat in chats))
    found = {}
    for chat, value in zip(chats, values, strict=True):
        with contextlib.suppress(ValueError, TypeError, KeyError):
            kept = json.loads(value)
            found[chat] = ReplyElsewhere(kept["reply"], kept["text"])
    return found


async def close() -> None:
    """Close this event loop's Redis connections (a test's loop, a stopping server's)."""
    hub = _hubs.pop(_loop_id(), None)
    if hub and hub.redis:
        await hub.redis.close()


async def _push(tabs, html: str) -> None:
    for tab in list(tabs):
        try:
            await tab.push(html)
        except Exception as error:  # a socket closing as it is written to: the others go on
            logger.info("a frame to a closing tab was dropped: %s", type(error).__name__)


class _Hub:
    """One event loop's tabs, by session, and its Redis link."""

    def __init__(self) -> None:
        self.tabs: dict[str, set] = defaultdict(set)
        self.subscriptions: dict[str, asyncio.Future] = {}  # by session, once asked for
        self.redis = _RedisLink(settings.REDIS_URL) if settings.REDIS_URL else None


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
    """Two connections: one sends the queued commands in batches, one receives the frames of
    the sessions this process has tabs of."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        # Reads (a tab's snapshot) come in bursts too: a restart's tabs all reconnect at once.
        self.client = redis.asyncio.Redis.from_url(
            url, max_connections=settings.REDIS_MAX_CONNECTIONS
        )
        self.pubsub = self.client.pubsub()
        self.outbox: list[tuple] = []
        self.sending: asyncio.Task | None = None
        self.receiving: asyncio.Task | None = None
        self.subscribing: dict[str, asyncio.Future] = {}
        self.lock = asyncio.Lock()  # subscribe and unsubscribe, one at a time

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
            except Exception as error:  # the tabs on this process still get their frames
                logger.warning("sending %d frames to Redis failed: %s", len(batch), error)

    async def read(self, *keys) -> list:
        return await self.client.mget(keys)

    async def subscribe(self, channel: str) -> None:
        """Subscribe, and return once Redis has confirmed it: frames published after this
        returns reach this process."""
        async with self.lock:
            confirmed = asyncio.get_running_loop().create_future()
            self.subscribing[channel] = confirmed
            await self.pubsub.subscribe(channel)
            if self.receiving is None or self.receiving.done():
                self.receiving = asyncio.get_running_loop().create_task(self._receive())
        await asyncio.wait_for(asyncio.shield(confirmed), timeout=5)

    def unsubscribe(self, channel: str) -> None:
        async def unsubscribe():
            async with self.lock:
                await self.pubsub.unsubscribe(channel)

        asyncio.get_running_loop().create_task(unsubscribe())

    async def _receive(self) -> None:
        own = PROCESS.encode()
        while True:
            try:
                message = await self.pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("reading frames from Redis failed: %s", error)
                await asyncio.sleep(1)
                continue
            if message is None:
                continue
            channel = message["channel"].decode()
            if message["type"] == "subscribe":
                confirmed = self.subscribing.pop(channel, None)
                if confirmed and not confirmed.done():
                    confirmed.set_result(None)
            elif message["type"] == "message" and not message["data"].startswith(own):
                html = message["data"][len(own) :].decode()
                await _push(_hub().tabs.get(channel.rsplit(":", 1)[1], ()), html)

    async def close(self) -> None:
        if self.sending and not self.sending.done():  # the last frames first
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sending, timeout=2)
        for task in (self.sending, self.receiving):
            if task and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()
        with contextlib.suppress(Exception):
            await self.client.aclose()
