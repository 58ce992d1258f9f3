"""channels-redis's channel layer, with a receive() that ends when it is cancelled and waits
out Redis going away.

On Python 3.11, asyncio.wait_for() swallows a cancellation that arrives just as what it awaits
completes (fixed in 3.12). redis-py sends each command through wait_for(), and channels-redis
reads until a message comes, 5 s at a time: a socket's receive cancelled at that moment read
on, and its consumer outlived its closed socket until Daphne killed it 10 s later ("took too
long to shut down", a consumer in about one of three rounds of 50 sockets closing at once; found
by the attacker's replay of a rolling restart). Here a cancelled receive is cancelled again
until it has ended.

A receive whose Redis went away (a restart, a failover: longer than redis-py's own retries of
a command) raised, and Channels closed its socket with 1011 and logged a traceback: a Redis
restart closed every chat page of every process at once (found by the attacker's replay). It
tries again until Redis is back; the outage is logged once a process. Its own module:
channels-redis takes 0.16 s to import, which a process without REDIS_URL does not pay."""

import asyncio
import logging
import random

from channels_redis.core import RedisChannelLayer as ChannelsRedisLayer
from redis.exceptions import ConnectionError, TimeoutError

logger = logging.getLogger(__name__)

RECANCEL_EVERY = 0.05  # seconds: a swallowed cancellation is cancelled again this soon
RECEIVE_AGAIN_AFTER = 0.5  # seconds (with jitter): a receive whose Redis is away tries again

_redis_away = False  # this process's receives found Redis away, and none has got through since


class RedisChannelLayer(ChannelsRedisLayer):
    async def receive(self, channel):
        global _redis_away
        while True:
            try:
                message = await ended_when_cancelled(super().receive(channel))
            except (ConnectionError, TimeoutError) as error:
                if not _redis_away:
                    _redis_away = True
                    logger.warning("the channel layer lost Redis (%s): waiting for it", error)
                await asyncio.sleep(RECEIVE_AGAIN_AFTER * (0.5 + random.random()))
                continue
            if _redis_away:
                _redis_away = False
                logger.warning("the channel layer has Redis again")
            return message


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
