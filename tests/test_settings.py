"""Settings built from the environment."""

import asyncio
import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent


def _settings(**env) -> str:
    return _python(
        "import django, json; django.setup(); from django.conf import settings;"
        " print(json.dumps(settings.DATABASES['default']['OPTIONS'], default=str))",
        **env,
    )


def _python(code: str, **env) -> str:
    """What `code` prints, run in a new process with Maraum's settings and `env`."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, DJANGO_SETTINGS_MODULE="maraum.settings", **env),
        check=True,
    )
    return result.stdout


def test_the_pool_keeps_the_socket_host_from_the_url():
    options = _settings(
        DATABASE_URL="postgres://u@/db?host=/tmp/sock&port=5433", DATABASE_POOL="true"
    )
    assert '"host": "/tmp/sock"' in options and '"pool": {' in options


def test_the_redis_layer_reads_for_longer_than_it_waits_for_a_message():
    """An idle chat socket on the Redis layer must not die when the layer's blocking read
    (up to brpop_timeout) outlasts redis-py's socket read timeout."""
    from channels_redis.utils import create_pool

    from maraum.channel_layers import redis_layer
    from maraum.redis_channel_layer import RedisChannelLayer

    layer = RedisChannelLayer(**redis_layer("redis://127.0.0.1:6379/0")["CONFIG"])
    pool = create_pool(layer.hosts[0])
    assert pool.connection_kwargs["socket_timeout"] > layer.brpop_timeout


def test_a_burst_of_sockets_joining_their_groups_does_not_run_out_of_redis_connections():
    """250 chats arriving at one process within seconds each join three groups: redis-py's
    default pool (100, refusing beyond) closed some of them with 1011."""
    import redis

    from maraum.channel_layers import redis_layer
    from maraum.redis_channel_layer import RedisChannelLayer
    from tests.chat.test_processes import REDIS_URL, redis_answers

    if not redis_answers():
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    layer = RedisChannelLayer(**redis_layer(REDIS_URL)["CONFIG"], prefix="test-burst")

    async def burst():
        try:
            await asyncio.gather(
                *(layer.group_add(f"burst-{n % 7}", f"burst.channel-{n}") for n in range(300))
            )
        finally:
            await layer.flush()
            await layer.close_pools()

    try:
        asyncio.run(burst())
    except redis.exceptions.MaxConnectionsError:
        pytest.fail("the layer's Redis pool ran out of connections")


def test_a_socket_joining_after_redis_dropped_the_layers_connections_is_not_refused():
    """Redis restarted (or dropped its idle clients): the first socket on each process to
    join a group got a dead pooled connection and was closed with 1011 (found twice by the
    attacker's replay). The layer now retries a command on a fresh connection."""
    import redis

    from maraum.channel_layers import redis_layer
    from maraum.redis_channel_layer import RedisChannelLayer
    from tests.chat.test_processes import REDIS_URL, redis_answers

    if not redis_answers():
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    config = redis_layer(REDIS_URL)["CONFIG"]
    config["hosts"][0]["client_name"] = "maraum-test-dropped"
    layer = RedisChannelLayer(**config, prefix="test-dropped")

    async def drop_and_join():
        admin = redis.asyncio.Redis.from_url(REDIS_URL)
        try:
            await layer.group_add("dropped", "dropped.channel-1")  # a pooled connection now
            clients = await admin.client_list()
            ours = [c["id"] for c in clients if c.get("name") == "maraum-test-dropped"]
            assert ours
            for client_id in ours:
                await admin.client_kill_filter(_id=client_id)
            await layer.group_add("dropped", "dropped.channel-2")
        finally:
            await layer.flush()
            await layer.close_pools()
            await admin.aclose()

    asyncio.run(drop_and_join())


def test_sockets_closing_together_on_the_redis_layer_all_end_at_once(settings):
    """In about one round in three of 50 sockets closing at once, one consumer's channel
    receive swallowed its cancellation (asyncio.wait_for() on Python 3.11, inside redis-py)
    and read on, 5 s at a time, until Daphne killed it 10 s later: "took too long to shut
    down" (found by the attacker's replay of a rolling restart)."""
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.layers import channel_layers
    from channels.testing import WebsocketCommunicator

    from maraum.channel_layers import redis_layer
    from tests.chat.test_processes import REDIS_URL, redis_answers

    if not redis_answers():
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    layer = redis_layer(REDIS_URL)
    layer["CONFIG"]["prefix"] = "test-closing"
    settings.CHANNEL_LAYERS = {"default": layer}

    class GroupSocket(AsyncWebsocketConsumer):
        groups = ["closing"]

        async def ping(self, event):
            await self.send(text_data="ping")

    async def rounds(count: int, sockets: int) -> list[int]:
        still_running = []
        try:
            for _ in range(count):
                tabs = [
                    WebsocketCommunicator(GroupSocket.as_asgi(), "/ws/") for _ in range(sockets)
                ]
                await asyncio.gather(*(tab.connect() for tab in tabs))
                await channel_layers["default"].group_send("closing", {"type": "ping"})
                await asyncio.gather(*(tab.receive_from() for tab in tabs))
                for tab in tabs:
                    await tab.send_input({"type": "websocket.disconnect", "code": 1000})
                _, running = await asyncio.wait([tab.future for tab in tabs], timeout=5)
                still_running.append(len(running))
                for consumer in running:
                    consumer.cancel()
        finally:
            await channel_layers["default"].flush()
            await channel_layers["default"].close_pools()
        return still_running

    channel_layers.backends.clear()
    try:
        assert asyncio.run(rounds(12, 50)) == [0] * 12
    finally:
        channel_layers.backends.clear()


@pytest.mark.parametrize("then", ["waits", "fails"])
def test_a_cancelled_receive_is_cancelled_until_it_has_ended(then):
    """What the layer's receive() does about a cancellation swallowed inside it: the receive
    ends, cancelled, whether what it awaited then waits on or fails (an error nobody sees)."""
    from maraum.redis_channel_layer import ended_when_cancelled

    async def swallows_one_cancellation():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # as asyncio.wait_for() may on Python 3.11
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if then == "fails":
                raise ConnectionError("the connection went with the cancellation") from None
            raise

    async def cancel_it():
        unretrieved = []
        asyncio.get_running_loop().set_exception_handler(lambda _, c: unretrieved.append(c))
        inner = asyncio.ensure_future(swallows_one_cancellation())
        receive = asyncio.ensure_future(ended_when_cancelled(inner))
        await asyncio.sleep(0)  # both started
        receive.cancel()
        await asyncio.wait({receive}, timeout=5)
        ended = receive.cancelled(), inner.done()
        del inner, receive
        gc.collect()  # an exception never retrieved is reported as its task goes
        return ended, unretrieved

    assert asyncio.run(cancel_it()) == ((True, True), [])


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-" + "x" * 40,
    "ALLOWED_HOSTS": "maraum.example",
    "CSRF_TRUSTED_ORIGINS": "https://maraum.example",
}


def _check_deploy(**env) -> subprocess.CompletedProcess:
    """`check --deploy` under `env` (a None value: not set at all)."""
    merged = {**os.environ, "DJANGO_SETTINGS_MODULE": "maraum.settings", **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={key: value for key, value in merged.items() if value is not None},
    )


def test_the_readmes_production_environment_passes_check_deploy():
    result = _check_deploy(**PRODUCTION, HTTPS=None)  # unset: on, as DEBUG is off
    assert result.returncode == 0, result.stdout + result.stderr


def test_plain_http_is_what_check_deploy_catches():
    result = _check_deploy(**PRODUCTION, HTTPS="false")
    assert result.returncode != 0 and "W004" in result.stderr + result.stdout


def test_the_development_secret_key_is_readable_by_its_owner_only(tmp_path):
    from maraum.settings import dev_secret_key

    path = tmp_path / ".data" / "secret_key"
    key = dev_secret_key(path)
    assert len(key) > 40 and path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)  # as an earlier version left it
    assert dev_secret_key(path) == key and path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("api_key", ["", "sk-test"])
def test_the_model_sdk_is_imported_by_a_server_that_uses_it_and_nothing_else(api_key):
    """The `anthropic` SDK takes over a second to import: a command or an offline server does
    not pay for it, and a server with a key imports it as it starts, not in a learner's first
    turn (an import on the event loop stalls every socket)."""
    code = (
        "import sys, django; django.setup(); from django.core import management;"
        " management.call_command('check', verbosity=0); offline = 'anthropic' in sys.modules;"
        " import maraum.asgi; print(offline, 'anthropic' in sys.modules)"
    )
    printed = _python(code, ANTHROPIC_API_KEY=api_key)
    assert printed.splitlines()[-1].split() == ["False", str(bool(api_key))]
