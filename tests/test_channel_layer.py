"""The Redis channel layer outlives a Redis restart: a socket's receive waits for Redis to come
back instead of failing, which closed every open chat page with 1011 and logged a traceback
for each; joining or leaving a group meanwhile does not fail either; and the groups a Redis
that came back empty forgot are written again, so a log-out still closes the pages open before
(found by the attacker's replays), and each of their sockets is told, since what was sent to
those groups meanwhile was lost (a log-out during the outage: found by the next replay)."""

import asyncio
import shutil
import subprocess
import time

import pytest
import redis

from tests.support.servers import free_port

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server to restart one of its own"
)


class PrivateRedis:
    """A redis-server of this test's own, to stop and start again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def layer_on(server):
    from maraum.channel_layers import redis_layer
    from maraum.redis_channel_layer import RedisChannelLayer

    return RedisChannelLayer(**redis_layer(server.url)["CONFIG"])


async def until_redis_is_back(layer) -> None:
    async with asyncio.timeout(10):
        while layer.redis_away:
            await asyncio.sleep(0.05)


async def test_a_receive_waits_out_a_redis_restart(private_redis, caplog):
    layer = layer_on(private_redis)
    channel = await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.2)  # its blocking read is on its way to Redis

    await asyncio.to_thread(private_redis.stop)
    await asyncio.sleep(1.0)
    assert not receiving.done()  # before: redis.ConnectionError, and the socket closed (1011)
    await asyncio.to_thread(private_redis.start)
    await layer.send(channel, {"type": "login.ended"})

    async with asyncio.timeout(10):
        assert await receiving == {"type": "login.ended"}
    said = [(r.levelname, r.getMessage()) for r in caplog.records if "Redis" in r.getMessage()]
    assert [level for level, _ in said] == ["WARNING", "WARNING"]  # once away, once back
    assert "lost Redis" in said[0][1] and "has Redis again" in said[1][1]
    await layer.flush()


async def test_a_receive_asleep_as_redis_comes_back_is_woken(private_redis, monkeypatch):
    """A receive between two tries slept on after Redis was back, and the process's messages
    waited for it (up to 4 s more, found by the recheck replay)."""
    from maraum import redis_channel_layer

    monkeypatch.setattr(redis_channel_layer, "TRY_AGAIN_AFTER", 120.0)  # asleep for minutes
    layer = layer_on(private_redis)
    channel = await layer.new_channel()  # in no group: nothing of it is forgotten
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.2)

    await asyncio.to_thread(private_redis.stop)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(private_redis.start)
    await until_redis_is_back(layer)
    await layer.send(channel, {"type": "login.ended"})

    async with asyncio.timeout(10):  # before: not until its two minutes were up
        assert await receiving == {"type": "login.ended"}
    await layer.flush()


async def test_groups_a_redis_that_came_back_empty_forgot_are_written_again(private_redis):
    layer = layer_on(private_redis)
    before, during = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("learner-1", before)
    receiving = asyncio.ensure_future(layer.receive(before))
    await asyncio.sleep(0.2)

    await asyncio.to_thread(private_redis.stop)
    await asyncio.sleep(0.5)
    # A page that connects and one that closes meanwhile: neither fails (before, 1011).
    await layer.group_add("learner-1", during)
    await layer.group_discard("learner-1", during)
    await layer.group_add("learner-2", during)
    await asyncio.sleep(0.5)
    await asyncio.to_thread(private_redis.start)  # empty: it kept nothing
    await until_redis_is_back(layer)

    await layer.group_send("learner-1", {"type": "login.ended"})
    await layer.group_send("learner-2", {"type": "session.ended"})
    async with asyncio.timeout(10):
        # Each is told first that what its groups were sent meanwhile was lost.
        assert await receiving == {"type": "groups.rewritten"}
        assert await layer.receive(before) == {"type": "login.ended"}  # before: never
        assert await layer.receive(during) == {"type": "groups.rewritten"}
        assert await layer.receive(during) == {"type": "session.ended"}
    await layer.flush()


async def test_a_restart_too_quick_to_notice_is_found_by_the_next_renewal(private_redis):
    layer = layer_on(private_redis)
    channel = await layer.new_channel()
    await layer.group_add("learner-1", channel)
    assert await layer.renew_memberships()
    assert layer.receive_buffer[channel].empty()  # nothing was forgotten: nothing to tell

    await asyncio.to_thread(private_redis.stop)
    await asyncio.to_thread(private_redis.start)  # empty, and no receive noticed
    await layer.group_send("learner-1", {"type": "login.ended"})  # lost: no member
    async with asyncio.timeout(10):
        while not await layer.renew_memberships():  # the renewal every GROUP_RENEW_EVERY
            await asyncio.sleep(0.05)
        assert await layer.receive(channel) == {"type": "groups.rewritten"}
    await layer.flush()


async def test_a_receive_waiting_on_redis_as_it_forgets_its_groups_is_told(private_redis):
    """Redis emptied without dropping the connection (FLUSHDB, an eviction, a failover to an
    empty replica): the notice went into this process's buffer, but the one receive that
    reads Redis for the process was blocked on Redis and never looked, so a log-out closed no
    page (the attacker's replay)."""
    layer = layer_on(private_redis)
    channel = await layer.new_channel()
    await layer.group_add("learner-1", channel)
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.2)  # its blocking read is on its way to Redis

    await asyncio.to_thread(redis.Redis(port=private_redis.port).flushdb)
    async with asyncio.timeout(10):
        assert await layer.renew_memberships()  # the renewal every GROUP_RENEW_EVERY
        assert await receiving == {"type": "groups.rewritten"}  # before: never
    await layer.flush()


async def test_a_socket_leaving_its_groups_while_they_are_written_again_breaks_nothing(
    private_redis,
):
    """Its group's members were read as they were written: a group left empty meanwhile was
    written with no member, and the error closed other sockets with 1011 (found by the
    recheck replay)."""
    layer = layer_on(private_redis)
    staying, leaving = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("learner-1", staying)
    await layer.group_add("learner-2", leaving)
    await asyncio.to_thread(private_redis.stop)
    await asyncio.to_thread(private_redis.start)  # empty: both groups are written again

    write_group = layer._write_group

    async def leaving_meanwhile(group, channels):
        if group == "learner-1":
            await layer.group_discard("learner-2", leaving)
        return await write_group(group, channels)

    layer._write_group = leaving_meanwhile
    async with asyncio.timeout(10):
        while not await layer.renew_memberships():
            await asyncio.sleep(0.05)
        assert await layer.receive(staying) == {"type": "groups.rewritten"}
    assert leaving not in layer.receive_buffer  # a socket gone is told nothing
    await layer.flush()
