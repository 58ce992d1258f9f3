"""channels-redis's channel layer, with a receive() that ends when it is cancelled.

On Python 3.11, asyncio.wait_for() swallows a cancellation that arrives just as what it awaits
completes (fixed in 3.12). redis-py sends each command through wait_for(), and channels-redis
reads until a message comes, 5 s at a time: a socket's receive cancelled at that moment read
on, and its consumer outlived its closed socket until Daphne killed it 10 s later ("took too
long to shut down", a consumer in about one of three rounds of 50 sockets closing at once; found
by the attacker's replay of a rolling restart). Here a cancelled receive is cancelled again
until it has ended. Its own module: channels-redis takes 0.16 s to import, which a process
without REDIS_URL does not pay."""

import asyncio

from channels_redis.core import RedisChannelLayer as ChannelsRedisLayer

RECANCEL_EVERY = 0.05  # seconds: a swallowed cancellation is cancelled again this soon


class RedisChannelLayer(ChannelsRedisLayer):
    async def receive(self, channel):
        return await ended_when_cancelled(super().receive(channel))


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
