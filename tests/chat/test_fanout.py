"""chat.fanout's messages on Redis, seen from one process: what it says on a session's
channel and when. (Two whole processes: tests/chat/test_processes.py.)"""

import asyncio
import uuid

import pytest
import redis.asyncio

from chat import fanout
from tests.chat.test_processes import REDIS_URL, redis_answers


class Tab:
    def __init__(self):
        self.frames: list[str] = []
        self.arrived = asyncio.Event()
        self.caught_up = asyncio.Event()

    async def push(self, html: str) -> None:
        self.frames.append(html)
        self.arrived.set()

    async def catch_up(self) -> None:
        self.caught_up.set()


@pytest.fixture
async def on_redis(settings):
    """This test's process on Redis, and a listener on a new session's channel."""
    if not redis_answers():
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    settings.REDIS_URL = REDIS_URL
    session_id = str(uuid.uuid4())
    listener = redis.asyncio.Redis.from_url(REDIS_URL).pubsub()
    await listener.subscribe(fanout.frames_channel(session_id))
    try:
        yield session_id, listener
    finally:
        await fanout.close()
        await listener.aclose()


async def heard(listener, what: str) -> str:
    """The next message on the channel that says `what`: the sender's id."""
    async with asyncio.timeout(10):
        while True:
            message = await listener.get_message(ignore_subscribe_messages=True, timeout=1)
            if message and message["data"].decode()[12:] == what:
                return message["data"].decode()[:12]


def fails_once(pubsub, method: str) -> None:
    """The pubsub's `method` raises as with Redis away, the first time it is called."""
    working = getattr(pubsub, method)

    async def away(*channels):
        setattr(pubsub, method, working)
        raise redis.ConnectionError("Redis is away")

    setattr(pubsub, method, away)


async def reaches(tab: Tab, session_id: str, frame: str) -> None:
    """A frame another process publishes on the session's channel reaches the tab."""
    other = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await other.publish(fanout.frames_channel(session_id), "elsewhere000" + frame)
    finally:
        await other.aclose()
    async with asyncio.timeout(10):
        await tab.arrived.wait()
    assert tab.frames == [frame]


async def test_a_tab_joining_says_hello_and_the_last_leaving_says_bye(on_redis):
    session_id, listener = on_redis
    tab = Tab()
    await fanout.join(session_id, tab)
    assert await heard(listener, fanout.HELLO) == fanout.PROCESS
    fanout.leave(session_id, tab)
    assert await heard(listener, fanout.BYE) == fanout.PROCESS


async def test_after_losing_its_redis_connection_a_process_asks_again_for_the_text_so_far(
    on_redis, monkeypatch
):
    """Frames published while the receiving connection was down are lost: once redis-py
    has subscribed again, the process says hello, and the processes streaming a reply of
    the session send its text so far (before, its tabs' bubbles stayed as they were); its
    own tabs are drawn again from the database (before, a reply finished meanwhile in another
    process stayed unfinished in them)."""
    session_id, listener = on_redis
    renewed = asyncio.Event()

    class Layer:
        async def renew_memberships(self):
            renewed.set()

    monkeypatch.setattr(fanout, "get_channel_layer", Layer, raising=False)
    tab = Tab()
    await fanout.join(session_id, tab)
    await heard(listener, fanout.HELLO)
    assert not tab.caught_up.is_set()
    await fanout._hub().redis.pubsub.connection.disconnect()
    assert await heard(listener, fanout.HELLO) == fanout.PROCESS
    async with asyncio.timeout(10):
        await tab.caught_up.wait()
        # Redis may have restarted: the channel layer writes its groups again at once (before,
        # at its next renewal, up to 30 s later: a log-out meanwhile was lost).
        await renewed.wait()
    # And the session's frames reach the tab again.
    await reaches(tab, session_id, "<p>frame</p>")
    fanout.leave(session_id, tab)


async def test_a_tab_joining_while_redis_is_away_gets_the_sessions_frames_once_it_is_back(
    on_redis, caplog
):
    """Its subscribe failed and was not tried again (redis-py subscribes again after a
    reconnect only to the channels it has): the tab never heard the other processes' frames
    (the attacker's replay). Tried again, and then as after any reconnect: the tab catches up,
    and the process says hello, so others send their replies' text so far."""
    session_id, listener = on_redis
    fails_once(fanout._hub().redis.pubsub, "subscribe")
    tab = Tab()
    await fanout.join(session_id, tab)
    assert "subscribing to a session's frames failed" in caplog.text
    await heard(listener, fanout.HELLO)  # the join's
    async with asyncio.timeout(10):
        await tab.caught_up.wait()
    assert await heard(listener, fanout.HELLO) == fanout.PROCESS  # once subscribed
    await reaches(tab, session_id, "<p>frame</p>")
    assert not fanout._hub().redis.subscribing  # no confirmation left waiting
    fanout.leave(session_id, tab)


async def test_a_channel_left_while_redis_was_away_is_left_once_it_is_back(on_redis, caplog):
    """Leaving a session's channel failed (Redis away): redis-py keeps the channel and
    subscribes again on reconnecting; the process then leaves it, instead of receiving that
    session's frames for the rest of its life."""
    session_id, listener = on_redis
    tab = Tab()
    await fanout.join(session_id, tab)
    await heard(listener, fanout.HELLO)
    pubsub = fanout._hub().redis.pubsub
    fails_once(pubsub, "unsubscribe")
    fanout.leave(session_id, tab)
    await heard(listener, fanout.BYE)
    channel = fanout.frames_channel(session_id)
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await until_subscribers(client, channel, 2)  # still subscribed, besides the listener
        assert "unsubscribing from a session's frames failed" in caplog.text
        await pubsub.connection.disconnect()
        await until_subscribers(client, channel, 1)
    finally:
        await client.aclose()


async def until_subscribers(client, channel: str, count: int) -> None:
    async with asyncio.timeout(10):
        while (await client.pubsub_numsub(channel))[0][1] != count:
            await asyncio.sleep(0.05)  # Redis has no event for it


async def test_frames_that_cannot_reach_redis_are_logged_once_while_it_is_away(on_redis, caplog):
    """Redis away for 30 s logged a hundred warnings a process (found by the recheck replay)."""
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from tests.support.servers import free_port

    session_id, listener = on_redis
    tab = Tab()
    await fanout.join(session_id, tab)
    await heard(listener, fanout.HELLO)
    link = fanout._hub().redis
    # Nothing listens there, and it is not tried again: redis-py's retries take seconds.
    away = redis.asyncio.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))
    working = link.client

    async def publish(client, times: int) -> None:
        link.client = client
        for number in range(times):
            await fanout.publish(session_id, f"<p>{number}</p>")
            await link.sending

    try:
        await publish(away, 3)
        await publish(working, 1)  # it works again: the next failure is news
        await publish(away, 2)
    finally:
        link.client = working
        await away.aclose()
    failed = [r for r in caplog.records if "frames to Redis failed" in r.getMessage()]
    assert len(failed) == 2
    fanout.leave(session_id, tab)
