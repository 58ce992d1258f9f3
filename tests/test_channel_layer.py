"""The Redis channel layer outlives a Redis restart: a socket's receive waits for Redis to come
back instead of failing, which closed every open chat page with 1011 and logged a traceback
for each (found by the attacker's replay)."""

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


async def test_a_receive_waits_out_a_redis_restart(private_redis, caplog):
    from maraum.channel_layers import redis_layer
    from maraum.redis_channel_layer import RedisChannelLayer

    layer = RedisChannelLayer(**redis_layer(private_redis.url)["CONFIG"])
    channel = await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.2)  # its blocking read is on its way to Redis

    await asyncio.to_thread(private_redis.stop)
    await asyncio.sleep(1.0)  # longer than redis-py's own retries of a command
    assert not receiving.done()  # before: redis.ConnectionError, and the socket closed (1011)
    await asyncio.to_thread(private_redis.start)
    await layer.send(channel, {"type": "login.ended"})

    async with asyncio.timeout(10):
        assert await receiving == {"type": "login.ended"}
    lost = [r for r in caplog.records if "lost Redis" in r.getMessage()]
    assert len(lost) == 1 and lost[0].levelname == "WARNING"  # once, not a traceback a socket
    await layer.flush()
    await layer.close_pools()
