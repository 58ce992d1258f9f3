"""A server restart mid-reply, against a real Daphne process: SIGTERM lets the reply finish; a
hard kill leaves an interrupted reply that the page shows, the logs record, and a retry gets."""

import asyncio
import json
import signal
import uuid

import pytest
import websockets
from channels.db import database_sync_to_async

from tests.chat.conftest import FAILED, FINISHED, chat_db, events, stored
from tests.conftest import database_url
from tests.support.fake_anthropic import FakeAnthropic, PlannedResponse, lorem_text
from tests.support.logins import login_session_key
from tests.support.servers import daphne

pytestmark = chat_db

SLOW = lorem_text(40)  # 40 tokens at 20 a second: two seconds of streaming


@database_sync_to_async
def login_cookie(user) -> str:
    return f"sessionid={login_session_key(user)}"


@pytest.fixture
def slow_model():
    with FakeAnthropic(PlannedResponse(text=SLOW, token_delay=0.05)) as fake:
        yield fake


def serve(fake, tmp_path, name, **more_env):
    """One process alone: with no Redis (whatever the suite runs on), a page has no other
    process to go to. Two on Redis: tests/chat/test_processes.py."""
    env = {
        "REDIS_URL": "",
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": fake.url,
        "REPLY_HEARTBEAT": "0.2",
        "REPLY_STALE_AFTER": "1",
        **more_env,
    }
    return daphne(
        database_url(),
        env,
        log_path=tmp_path / f"{name}.log",
    )


def chat_socket(port, session_id, cookie):
    return websockets.connect(
        f"ws://127.0.0.1:{port}/ws/sessions/{session_id}/",
        additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"},
        # A tab a test stops reading keeps reading its socket: with the client's default
        # queue (16 frames) full, it would not read the server's close frame either, and
        # closing it would wait out the 10 s close timeout.
        max_queue=None,
    )


async def until(socket, marker: str, timeout: float = 15.0) -> str:
    async with asyncio.timeout(timeout):
        while True:
            frame = await socket.recv()
            if marker in frame:
                return frame


async def draining(port: int, timeout: float = 15.0) -> None:
    """Until the server has begun draining: its first step is to stop listening."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                return
            writer.close()
            await asyncio.sleep(0.01)  # the signal is handled by the server's own loop


def message(chat="main", text="Hallo!"):
    return json.dumps({"chat": chat, "message": text, "client_message_id": str(uuid.uuid4())})


async def test_sigterm_lets_the_reply_in_flight_finish(alice, alice_session, slow_model, tmp_path):
    cookie = await login_cookie(alice)
    with serve(slow_model, tmp_path, "daphne") as (process, port):
        async with chat_socket(port, alice_session.pk, cookie) as socket:
            await socket.recv()  # sync
            await socket.send(message())
            await until(socket, '{"reply"')  # streaming has begun
            process.send_signal(signal.SIGTERM)
            await draining(port)  # sent at once, the frame could reach it before the signal
            await socket.send(message("helper", "Noch eine Frage"))
            assert "The server is restarting" in await until(socket, 'data-frame="notice"')
            await until(socket, FINISHED)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await until(socket, "never")
            assert closed.value.rcvd.code == 4012  # "restarting": the page reconnects
        assert await asyncio.to_thread(process.wait, 15) == 0
    assert (await stored(alice_session.pk, "main"))[-1] == ("scenario", SLOW)
    assert "Noch eine Frage" not in str(await stored(alice_session.pk))
    assert [e for e, _, _ in await events() if e.startswith("api_call")] == [
        "api_call_started",
        "api_call_completed",
    ]


async def test_pages_without_a_reply_on_their_way_reconnect_at_once_when_the_server_drains(
    alice, bob, alice_session, marketplace, slow_model, tmp_path
):
    """Before, every page stayed on the stopping process for the whole drain (up to
    SHUTDOWN_GRACE), and each message sent meanwhile was refused (found by the attacker's
    replay of a rolling restart)."""
    from tests.conftest import start_session

    bob_session = await database_sync_to_async(start_session)(bob, marketplace)
    cookies = await login_cookie(alice), await login_cookie(bob)
    with serve(slow_model, tmp_path, "daphne") as (process, port):
        async with (
            chat_socket(port, alice_session.pk, cookies[0]) as streaming,
            chat_socket(port, bob_session.pk, cookies[1]) as idle,
        ):
            await streaming.recv(), await idle.recv()  # syncs
            await streaming.send(message())
            await until(streaming, '{"reply"')
            process.send_signal(signal.SIGTERM)

            with pytest.raises(websockets.ConnectionClosed) as closed:
                await until(idle, "never", timeout=1.5)  # the reply streams for 2 s more
            assert closed.value.rcvd.code == 4012
            await until(streaming, FINISHED)  # the page with a reply on its way has all of it
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await until(streaming, "never")
            assert closed.value.rcvd.code == 4012
        assert await asyncio.to_thread(process.wait, 15) == 0
    assert (await stored(alice_session.pk, "main"))[-1] == ("scenario", SLOW)


async def test_a_reply_cut_off_by_a_crash_is_interrupted_and_can_be_asked_again(
    alice, alice_session, slow_model, tmp_path
):
    cookie = await login_cookie(alice)
    with serve(slow_model, tmp_path, "crashed") as (process, port):
        async with chat_socket(port, alice_session.pk, cookie) as socket:
            await socket.recv()
            await socket.send(message(text="Ich hätte gern Äpfel."))
            await until(socket, '{"reply"')
            process.kill()  # SIGKILL: no chance to clean up
            await asyncio.to_thread(process.wait, 10)

    slow_model.enqueue(PlannedResponse(text="Gern, wie viele?"))
    with serve(slow_model, tmp_path, "restarted") as (_, port):
        async with chat_socket(port, alice_session.pk, cookie) as socket:
            # The dead process's claim goes stale: the page is told, with a way to ask again.
            interrupted = await until(socket, FAILED)
            assert "Try again" in interrupted and "Your message is saved" in interrupted
            assert "The server restarted before the reply was finished." in interrupted
            await socket.send(json.dumps({"chat": "main", "action": "retry"}))
            await until(socket, FINISHED)

    assert await stored(alice_session.pk, "main") == [
        ("scenario", alice_session.scenario.initial_message_main),
        ("user", "Ich hätte gern Äpfel."),
        ("scenario", "Gern, wie viele?"),
    ]
    [(_, level, metadata)] = await events("reply_interrupted")
    assert level == "warn" and metadata["reason"] == "worker_stopped"
    assert metadata["chat"] == "main"


RESTARTED = "The server restarted before the reply was finished."


async def test_a_reply_a_restart_cut_off_says_so_on_every_page_after(
    alice, alice_session, slow_model, tmp_path
):
    """Before, only the pages open at the time said why; a page opened after it (a reconnect
    to another process, a second tab) said only that the reply did not come through (found
    by the attacker's replay of a rolling restart)."""
    cookie = await login_cookie(alice)
    with serve(slow_model, tmp_path, "stopped", SHUTDOWN_GRACE="0.3") as (process, port):
        async with chat_socket(port, alice_session.pk, cookie) as socket:
            await socket.recv()
            await socket.send(message())
            await until(socket, '{"reply"')
            process.send_signal(signal.SIGTERM)  # the reply takes 2 s: cut off after 0.3
            assert RESTARTED in await until(socket, FAILED)
        assert await asyncio.to_thread(process.wait, 15) == 0

    with serve(slow_model, tmp_path, "restarted") as (_, port):
        for _ in range(2):  # each page, each time
            async with chat_socket(port, alice_session.pk, cookie) as socket:
                page = await socket.recv()  # sync
                assert "Try again" in page and RESTARTED in page
