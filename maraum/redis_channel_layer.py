"""channels-redis's channel layer, with a receive() that ends when it is cancelled, and group
memberships that outlive Redis going away.

On Python 3.11, asyncio.wait_for() swallows a cancellation that arrives just as what it awaits
completes (fixed in 3.12). redis-py sends each command through wait_for(), and channels-redis
reads until a message comes, 5 s at a time: a socket's receive cancelled at that moment read
on, and its consumer outlived its closed socket until Daphne killed it 10 s later ("took too
long to shut down", a consumer in about one of three rounds of 50 sockets closing at once; found
by the attacker's replay of a rolling restart). Here a cancelled receive is cancelled again
until it has ended.

Redis going away (a restart, a failover: longer than redis-py's own retries of a command) made
a socket's receive raise, and Channels closed the socket with 1011 and logged a traceback: a
Redis restart closed every chat page of every process at once; a socket that joined or left
its groups meanwhile did the same; and a Redis that came back empty had forgotten which sockets
were in which group, so a log-out or a deleted session no longer closed the pages already open
(found by the attacker's replays). Here a receive waits for Redis and tries again; joining and
leaving a group are kept in this process too, and every membership is written to Redis again
once it is back and every GROUP_RENEW_EVERY seconds (which also covers a restart too quick to
be noticed). The outage is logged once a process, and its end once. What was sent to a group
while Redis had forgotten its members (a log-out during the outage, or just after Redis came
back empty) is lost: each of this process's channels whose group Redis had forgotten is then
sent "groups.rewritten", and a chat socket checks its login and its session again (found by
the attacker's replay: a log-out made during an outage left the learner's pages open, still
receiving the session's messages).

Its own module: channels-redis takes 0.16 s to import, which a process without REDIS_URL does
not pay."""

import asyncio
import logging
import random
import time
from collections import defaultdict

from channels_redis.core import RedisChannelLayer as ChannelsRedisLayer
from redis.exceptions import ConnectionError, TimeoutError

logger = logging.getLogger(__name__)

RECANCEL_EVERY = 0.05  # seconds: a swallowed cancellation is cancelled again this soon
# A receive whose Redis is away tries again after this long, doubled after each failure up to
# TRY_AGAIN_AT_MOST (with jitter): a thousand sockets do not hammer a Redis that is starting.
TRY_AGAIN_AFTER = 0.25  # seconds
TRY_AGAIN_AT_MOST = 4.0
GROUP_RENEW_EVERY = 30.0  # seconds: this process's group memberships are written again
# While Redis is away one task a process looks for it this often, and rewrites the memberships
# as soon as it is back: a log-out sent meanwhile into a Redis that came back empty is lost
# (the pages' own checks catch up), so that time is kept short.
LOOK_FOR_REDIS_EVERY = 0.1  # seconds
REDIS_AWAY = (ConnectionError, TimeoutError)
# Sent to a channel of this process whose group Redis had forgotten: messages sent to the
# group meanwhile were lost.
GROUPS_REWRITTEN = "groups.rewritten"


class RedisChannelLayer(ChannelsRedisLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.memberships: defaultdict[str, set[str]] = defaultdict(set)  # group → channels
        self.redis_away = False
        self._renewing: asyncio.Task | None = None
        self._looking: asyncio.Task | None = None
        self._back: asyncio.Event | None = None  # set once Redis is back (a new one an outage)
        self._renew_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    async def receive(self, channel):
        wait = TRY_AGAIN_AFTER
        while True:
            try:
                message = await ended_when_cancelled(super().receive(channel))
            except REDIS_AWAY as error:
                self._lost_redis(error)
                await self._until_redis_is_back(at_most=wait * (0.5 + random.random()))
                wait = min(wait * 2, TRY_AGAIN_AT_MOST)
                await self._renew_if_away()
                continue
            await self._renew_if_away()
            return message

    async def group_add(self, group, channel):
        self.memberships[group].add(channel)
        self._keep_renewing()
        try:
            await super().group_add(group, channel)
        except REDIS_AWAY as error:  # written once Redis is back
            self._lost_redis(error)

    async def group_discard(self, group, channel):
        channels = self.memberships.get(group)
        if channels is not None:
            channels.discard(channel)
            if not channels:
                del self.memberships[group]
        try:
            await super().group_discard(group, channel)
        except REDIS_AWAY as error:  # expires in Redis (group_expiry), if Redis kept it
            self._lost_redis(error)

    def _lost_redis(self, error: Exception) -> None:
        if not self.redis_away:
            self.redis_away = True
            self._back = asyncio.Event()
            logger.warning("the channel layer lost Redis (%s): waiting for it", error)
        self._looking = _running(self._looking, self._look_for_redis)

    async def _look_for_redis(self) -> None:
        while self.redis_away:
            await asyncio.sleep(LOOK_FOR_REDIS_EVERY)
            await self.renew_memberships()

    async def _until_redis_is_back(self, at_most: float) -> None:
        """Wait until the memberships are written again, or `at_most` seconds: a receive
        asleep as Redis came back let the process's messages wait seconds more (one receive
        at a time reads them)."""
        if self._back is None or self._back.is_set():
            return
        back = asyncio.ensure_future(self._back.wait())
        try:  # asyncio.wait(), not wait_for(): on 3.11 that may swallow a cancellation
            await asyncio.wait({back}, timeout=at_most)
        finally:
            back.cancel()

    async def _renew_if_away(self) -> None:
        if self.redis_away:
            await self.renew_memberships()

    async def renew_memberships(self) -> bool:
        """Write this process's group memberships to Redis again (one receive does it, the
        others wait); False if Redis is still away."""
        loop = asyncio.get_running_loop()
        lock = self._renew_locks.get(loop)
        if lock is None:
            self._renew_locks.clear()  # a lock belongs to one event loop (a test's, say)
            lock = self._renew_locks[loop] = asyncio.Lock()
        async with lock:
            forgotten: set[str] = set()
            # The members as they are now: a socket may leave its groups while this writes.
            groups = [(group, list(channels)) for group, channels in self.memberships.items()]
            try:
                for group, channels in groups:
                    if channels and await self._write_group(group, channels):
                        forgotten.update(channels)
            except REDIS_AWAY as error:
                self._lost_redis(error)
                return False
            if self.redis_away:
                self.redis_away = False
                self._back.set()
                logger.warning("the channel layer has Redis again: group memberships rewritten")
            still_here = set().union(*self.memberships.values())
            try:
                # Through Redis: put straight into this process's buffer, the notice waited
                # there while the one receive that reads Redis for the process blocked on it,
                # until some other message came (the attacker's replay: a log-out then closed
                # no page).
                for channel in forgotten & still_here:
                    await self.send(channel, {"type": GROUPS_REWRITTEN})
            except REDIS_AWAY as error:  # away again: told with the next rewrite
                self._lost_redis(error)
                return False
            return True

    async def _write_group(self, group: str, channels: list[str]) -> bool:
        """As channels-redis's group_add() writes a member, for all of a group's at once;
        whether Redis had forgotten any of them."""
        key = self._group_key(group)
        connection = self.connection(self.consistent_hash(group))
        now = time.time()
        added = await connection.zadd(key, dict.fromkeys(channels, now))
        await connection.expire(key, self.group_expiry)
        return added > 0

    def _keep_renewing(self) -> None:
        self._renewing = _running(self._renewing, self._renew_every_while)

    async def _renew_every_while(self) -> None:
        while self.memberships:
            await asyncio.sleep(GROUP_RENEW_EVERY)
            await self.renew_memberships()


def _running(task: asyncio.Task | None, work) -> asyncio.Task:
    """`task` if it still runs on this event loop, else a new task doing `work()`."""
    loop = asyncio.get_running_loop()
    if task is None or task.done() or task.get_loop() is not loop:
        task = loop.create_task(work())
    return task


async def ended_when_cancelled(awaitable):
    """Await `awaitable` in a task of its own; when cancelled, cancel that task until it has
    ended (it may swallow a cancellation), then raise."""
    task = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            task.cancel()
            try:
                await asyncio.wait({task}, timeout=RECANCEL_EVERY)
            except asyncio.CancelledError:
                continue  # cancelled again meanwhile: the task still ends first
        if not task.cancelled():
            task.exception()  # seen, not logged as never retrieved: the receive is given up
        raise
