"""Two server processes on one Redis act as one: a learner's tabs on different processes see
the same stream, run one reply at a time, and share limits; a tab (re)connecting to the
other process draws the reply mid-stream and follows the rest."""

import asyncio
import contextlib
import html
import os
import re
import signal

import pytest
import redis
import redis.asyncio
import websockets

from tests.chat.conftest import FAILED, FINISHED, STREAMING, chat_db, deltas, stored
from tests.chat.test_restarts import chat_socket, login_cookie, message, until
from tests.conftest import database_url
from tests.support.fake_anthropic import FakeAnthropic, PlannedResponse, lorem_text
from tests.support.servers import daphnes

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
        with daphnes(database_url(), env, [tmp_path / "a.log", tmp_path / "b.log"]) as (a, b):
            yield fake, a, b


BUBBLE = re.compile(r'id="reply-(?P<reply>[0-9a-f]+)-text" data-end="\d+">(?P<text>[^<]*)<')


class Page:
    """What one tab shows of the main chat's streaming reply, from its sync and every frame
    since until the reply's end: a frame drawing the slot sets the bubble's text (or takes the
    bubble away), deltas extend it as static/js/chat.js does (only what lies beyond the text
    it has)."""

    def __init__(self, sync: str):
        self.frames = [sync]

    def text(self) -> str:
        reply, text = None, ""
        for frame in self.frames:
            if FINISHED in frame:  # the stored message takes the bubble's place: as it stood
                break
            if 'id="main-live"' in frame:  # the slot is drawn again: with a bubble, or without
                drawn = BUBBLE.search(frame)
                reply, text = (
                    (drawn["reply"], html.unescape(drawn["text"])) if drawn else (None, "")
                )
            for delta in deltas([frame]):
                if delta["reply"] == reply and delta["at"] <= len(text):
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
        page_b = Page((await tab_a.recv(), await tab_b.recv())[1])
        await tab_a.send(message(text="Hallo, ich hätte gern Äpfel."))
        await collect(tab_b, page_b, '{"reply"')  # A's stream reaches the tab on process B
        # One reply in flight per chat, whichever process is asked.
        await tab_b.send(message(text="Noch etwas?"))
        await collect(tab_b, page_b, 'data-frame="notice"')
        assert "Wait for the reply" in page_b.frames[-1]
        await collect(tab_b, page_b, 'data-frame="reply-finished"')
        assert page_b.text() == SLOW  # every word once, none missing
        await until(tab_a, FINISHED)
    assert len(fake.requests) == 1
    assert await stored(alice_session.pk, "main") == [
        ("scenario", alice_session.scenario.initial_message_main),
        ("user", "Hallo, ich hätte gern Äpfel."),
        ("scenario", SLOW),
    ]


async def test_a_tab_joining_on_the_other_process_gets_the_text_so_far_and_the_rest(
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
            page = Page(await tab_b.recv())
            await collect(tab_b, page, STREAMING)  # the bubble, mid-stream, with the text so far
            assert 0 < len(page.text()) < len(SLOW)
            await collect(tab_b, page, FINISHED)
    assert page.text() == SLOW


async def test_a_tab_moving_to_the_other_process_mid_reply_gets_the_text_so_far_and_the_rest(
    alice, alice_session, two_processes
):
    """The learner's only tab leaves process A mid-reply (a network change, a reload through
    the balancer) and comes back on B: A, still streaming, hears B's tab arrive."""
    _, port_a, port_b = two_processes
    cookie = await login_cookie(alice)
    async with chat_socket(port_a, alice_session.pk, cookie) as tab_a:
        await tab_a.recv()
        await tab_a.send(message(text="Was kosten die Äpfel?"))
        for _ in range(10):
            await until(tab_a, '{"reply"')
    async with chat_socket(port_b, alice_session.pk, cookie) as tab_b:
        page = Page(await tab_b.recv())
        await collect(tab_b, page, STREAMING)
        assert 0 < len(page.text()) < len(SLOW)
        await collect(tab_b, page, FINISHED)
    assert page.text() == SLOW


async def test_a_tab_joining_on_the_other_process_while_the_model_is_asked_again_says_so(
    alice, alice_session, two_processes
):
    """The bubble says when the model is asked again, in every tab: one joining on the other
    process before the first token drew dots until the next try (the attacker's recheck)."""
    fake, port_a, port_b = two_processes
    fake.enqueue(PlannedResponse(status=429, retry_after=3.0))
    cookie = await login_cookie(alice)
    async with chat_socket(port_a, alice_session.pk, cookie) as tab_a:
        await tab_a.recv()
        await tab_a.send(message(text="Was kosten die Äpfel?"))
        await until(tab_a, "No answer yet")
        async with chat_socket(port_b, alice_session.pk, cookie) as tab_b:
            page = Page(await tab_b.recv())
            await collect(tab_b, page, "No answer yet")
            assert "(try 2 of 3)" in page.frames[-1] and page.text() == ""  # before the text
            await collect(tab_b, page, FINISHED)
    assert page.text() == SLOW


async def test_a_resend_from_a_tab_on_the_other_process_keeps_the_stream_shown(
    alice, alice_session, two_processes
):
    """The page resends a message it has no answer for on reconnecting: on the process not
    streaming its reply, the resend's sync draws the reply as waiting, and the streaming
    process is asked for the text so far again (before, the bubble stayed away until the end)."""
    _, port_a, port_b = two_processes
    cookie = await login_cookie(alice)
    sent = message(text="Was kosten die Äpfel?")
    async with chat_socket(port_a, alice_session.pk, cookie) as tab_a:
        await tab_a.recv()
        await tab_a.send(sent)
        await until(tab_a, '{"reply"')
        async with chat_socket(port_b, alice_session.pk, cookie) as tab_b:
            page = Page(await tab_b.recv())
            await collect(tab_b, page, STREAMING)
            await tab_b.send(sent)  # the same client_message_id
            await collect(tab_b, page, 'data-frame="sync"')
            assert page.text() == ""  # the sync shows the reply as waiting
            await collect(tab_b, page, STREAMING)
            assert 0 < len(page.text()) < len(SLOW)
            await collect(tab_b, page, FINISHED)
    assert page.text() == SLOW


async def test_deltas_stay_off_redis_while_no_other_process_has_a_tab(
    alice, alice_session, two_processes
):
    """Most sessions have all their tabs on one process: their text deltas (most frames)
    cost Redis nothing. The other frames still go there, for a tab joining elsewhere."""
    _, port_a, _ = two_processes
    listener = redis.asyncio.Redis.from_url(REDIS_URL).pubsub()
    await listener.subscribe(f"maraum:frames:{alice_session.pk}")
    cookie = await login_cookie(alice)
    try:
        async with chat_socket(port_a, alice_session.pk, cookie) as tab_a:
            page = Page(await tab_a.recv())
            await tab_a.send(message(text="Was kosten die Äpfel?"))
            await collect(tab_a, page, FINISHED)
        assert len(deltas(page.frames)) > 5
        on_redis = []  # in the order published: the end comes last
        async with asyncio.timeout(10):
            while not any(FINISHED in frame for frame in on_redis):
                heard = await listener.get_message(ignore_subscribe_messages=True, timeout=1)
                if heard:
                    on_redis.append(heard["data"].decode()[12:])
    finally:
        await listener.aclose()
    assert not deltas(on_redis)
    assert any(STREAMING in frame for frame in on_redis)


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


async def test_in_a_rolling_restart_a_page_moves_at_once_also_mid_reply(
    alice, alice_session, tmp_path
):
    """Its socket stayed on the stopping process until the reply streaming there was stored,
    and every message in its other chat was refused meanwhile (up to SHUTDOWN_GRACE: the
    attacker's replay). On another process it follows the reply and may ask the helper."""
    cookie = await login_cookie(alice)
    with two_servers(tmp_path) as (fake, (process_a, port_a), (_, port_b)):
        async with chat_socket(port_a, alice_session.pk, cookie) as tab_a:
            await tab_a.recv()
            await tab_a.send(message(text="Guten Tag!"))
            await until(tab_a, '{"reply"')
            process_a.send_signal(signal.SIGTERM)
            frames = []
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    while True:
                        frames.append(await tab_a.recv())
            assert closed.value.rcvd.code == 4012
            assert not [frame for frame in frames if FINISHED in frame]  # closed mid-reply
        async with chat_socket(port_b, alice_session.pk, cookie) as tab_b:
            page = Page(await tab_b.recv())
            await tab_b.send(message("helper", "Was heißt „Guten Tag“?"))
            await collect(tab_b, page, '#main-messages" data-frame="reply-finished"')
            assert page.text() == SLOW  # the text so far, then the rest
            await collect(tab_b, page, '#helper-messages" data-frame="reply-finished"')
        assert await asyncio.to_thread(process_a.wait, 15) == 0
    assert len(fake.requests) == 2
    assert (await stored(alice_session.pk, "main"))[-1] == ("scenario", SLOW)
    assert (await stored(alice_session.pk, "helper"))[-1] == ("helper", SLOW)


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
