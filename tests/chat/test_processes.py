"""Two server processes on one Redis act as one: a learner's tabs on different processes see
the same stream, run one reply at a time, and share limits; a tab (re)connecting to the
other process draws the reply mid-stream and follows the rest."""

import asyncio
import contextlib
import html
import itertools
import os
import re
import signal

import pytest
import redis
import websockets

from tests.chat.conftest import FAILED, FINISHED, STREAMING, chat_db, deltas, stored
from tests.chat.test_restarts import chat_socket, login_cookie, message, until
from tests.conftest import database_url
from tests.support.fake_anthropic import FakeAnthropic, PlannedResponse, lorem_text
from tests.support.servers import daphne

pytestmark = chat_db

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
SLOW = lorem_text(60)  # 60 tokens at 20 a second: three seconds of streaming


def redis_answers() -> bool:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture
def two_processes(tmp_path):
    """Two Daphne processes on one Redis and one fake model; yields (fake, port_a, port_b)."""
    with two_servers(tmp_path) as (fake, (_, port_a), (_, port_b)):
        yield fake, port_a, port_b


@contextlib.contextmanager
def two_servers(tmp_path, **extra_env):
    if not redis_answers():
        pytest.skip(f"no Redis answers at {REDIS_URL}: several processes need one")
    with FakeAnthropic(PlannedResponse(text=SLOW, token_delay=0.05)) as fake:
        env = {
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": fake.url,
            "REDIS_URL": REDIS_URL,
            "CHAT_MESSAGES_PER_LEARNER": "3/minute",
            **extra_env,
        }
        with (
            daphne(database_url(), env, log_path=tmp_path / "a.log") as a,
            daphne(database_url(), env, log_path=tmp_path / "b.log") as b,
        ):
            yield fake, a, b


class Page:
    """What one tab shows of the main chat's streaming reply: the bubble its sync drew (if
    any) and every frame since."""

    def __init__(self, sync: str):
        self.frames = [sync]

    def text(self) -> str:
        drawn = re.search(r'id="reply-[0-9a-f]+-text" data-end="\d+">([^<]*)<', self.frames[0])
        text = html.unescape(drawn.group(1)) if drawn else ""
        for delta in deltas(self.frames[1:]):  # as static/js/chat.js applies them
            if delta["at"] <= len(text) < delta["at"] + len(delta["text"]):
                text += delta["text"][len(text) - delta["at"] :]
        return text


async def collect(socket, page: Page, until_marker: str) -> None:
    async with asyncio.timeout(15):
        while True:
            frame = await socket.recv()
            page.frames.append(frame)
            if until_marker in frame:
                return


async def test_tabs_on_two_processes_share_one_reply_and_its_stream(
    alice, alice_session, two_processes
):
    fake, port_a, port_b = two_processes
    cookie = await login_cookie(alice)
    async with (
        chat_socket(port_a, alice_session.pk, cookie) as tab_a,
        chat_socket(port_b, alice_session.pk, cookie) as tab_b,
    ):
        await tab_a.recv(), await tab_b.recv()  # the syncs
        await tab_a.send(message(text="Hallo, ich hätte gern Äpfel."))
        await until(tab_b, '{"reply"')  # process A's stream reaches the tab on process B
        # One reply in flight per chat, whichever process is asked.
        await tab_b.send(message(text="Noch etwas?"))
        refused = await until(tab_b, 'data-frame="notice"')
        assert "Wait for the reply" in refused
        page_b = Page("")
        await collect(tab_b, page_b, FINISHED)
        streamed = deltas(page_b.frames)
        for before, after in itertools.pairwise(streamed):  # no gap, in order
            assert after["at"] == before["at"] + len(before["text"])
        assert streamed[-1]["at"] + len(streamed[-1]["text"]) == len(SLOW)
        await until(tab_a, FINISHED)
    assert len(fake.requests) == 1
    assert await stored(alice_session.pk, "main") == [
        ("scenario", alice_session.scenario.initial_message_main),
        ("user", "Hallo, ich hätte gern Äpfel."),
        ("scenario", SLOW),
    ]


async def test_a_tab_reconnecting_to_the_other_process_gets_the_text_so_far_and_the_rest(
    alice, alice_session, two_processes
):
    _, port_a, port_b = two_processes
    cookie = await login_cookie(alice)
    async with chat_socket(port_a, alice_session.pk, cookie) as tab_a:
        await tab_a.recv()
        await tab_a.send(message(text="Was kosten die Äpfel?"))
        for _ in range(10):  # half a second of text streamed
            await until(tab_a, '{"reply"')
        async with chat_socket(port_b, alice_session.pk, cookie) as tab_b:
            sync = await tab_b.recv()
            assert STREAMING in sync  # the bubble, mid-stream, with its text so far
            page = Page(sync)
            assert 0 < len(page.text()) < len(SLOW)
            await collect(tab_b, page, FINISHED)
    assert page.text() == SLOW  # every word once, none missing


async def test_the_message_limit_is_shared_by_the_processes(alice, alice_session, two_processes):
    fake, port_a, port_b = two_processes
    fake.enqueue(*[PlannedResponse(text="Ja.")] * 3)
    cookie = await login_cookie(alice)
    async with (
        chat_socket(port_a, alice_session.pk, cookie) as tab_a,
        chat_socket(port_b, alice_session.pk, cookie) as tab_b,
    ):
        await tab_a.recv(), await tab_b.recv()
        for number, tab in enumerate([tab_a, tab_b, tab_a]):  # 3 a minute, on two processes
            await tab.send(message("helper", f"Frage {number}"))
            await until(tab_a, FINISHED), await until(tab_b, FINISHED)  # both tabs see it
        await tab_b.send(message("helper", "Frage 3"))
        refused = await until(tab_b, 'data-frame="notice"')
    assert "You are sending messages very quickly" in refused
    assert len(fake.requests) == 3


async def test_restarting_one_process_loses_no_reply(alice, alice_session, tmp_path):
    """A rolling restart: the process streaming a reply gets SIGTERM; it finishes and stores
    the reply, the tab on the other process sees all of it, and the tab on the stopping one is
    sent to reconnect (4012), which the other process serves with the reply stored."""
    cookie = await login_cookie(alice)
    with two_servers(tmp_path) as (fake, (process_a, port_a), (_, port_b)):
        async with (
            chat_socket(port_a, alice_session.pk, cookie) as tab_a,
            chat_socket(port_b, alice_session.pk, cookie) as tab_b,
        ):
            await tab_a.recv(), await tab_b.recv()
            await tab_a.send(message(text="Guten Tag!"))
            await until(tab_b, '{"reply"')
            process_a.send_signal(signal.SIGTERM)
            page_b = Page("")
            await collect(tab_b, page_b, FINISHED)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await until(tab_a, "never")
            assert closed.value.rcvd.code == 4012
        assert await asyncio.to_thread(process_a.wait, 15) == 0
        async with chat_socket(port_b, alice_session.pk, cookie) as reconnected:
            assert SLOW in html.unescape(await reconnected.recv())
    assert len(fake.requests) == 1
    assert (await stored(alice_session.pk, "main"))[-1] == ("scenario", SLOW)


async def test_a_tab_watching_a_reply_on_a_process_that_dies_is_offered_a_retry(
    alice, alice_session, tmp_path
):
    """The tab on the surviving process saw the reply stream live; once the dead process's
    claim goes stale, the tab shows the reply as cut off, with "Try again"."""
    cookie = await login_cookie(alice)
    with two_servers(tmp_path, REPLY_STALE_AFTER="2") as (fake, (process_a, port_a), (_, port_b)):
        async with (
            chat_socket(port_a, alice_session.pk, cookie) as tab_a,
            chat_socket(port_b, alice_session.pk, cookie) as tab_b,
        ):
            await tab_a.recv(), await tab_b.recv()
            await tab_a.send(message(text="Guten Tag!"))
            await until(tab_b, '{"reply"')
            process_a.kill()
            await until(tab_b, FAILED, timeout=10)
    assert len(fake.requests) == 1
