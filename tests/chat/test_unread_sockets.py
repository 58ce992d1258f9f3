"""A websocket whose client stops reading is dropped once too much waits to be sent to it, in a
real Daphne: Twisted would keep any amount in the server's memory."""

import json
import socket
import time
import uuid

import pytest
import websockets
from asgiref.sync import sync_to_async

from chat.models import Message
from lib.rls import acting_as_learner
from tests.chat.conftest import chat_db
from tests.chat.test_restarts import login_cookie
from tests.conftest import database_url
from tests.support.servers import daphne

pytestmark = chat_db

LONG = " ".join(["Ich möchte gern ein Kilo Tomaten und zwei Gurken, bitte."] * 17)  # 1,000


def _long_helper_chat(session) -> list[uuid.UUID]:
    """A hundred long questions to the helper and longer answers: the page shows the newest
    100 messages, about 300 KB."""
    ids = []
    with acting_as_learner(session.user_id):
        for _ in range(100):
            asked = Message.objects.create(
                session=session,
                role="user",
                chat_type="helper",
                content=LONG,
                client_message_id=uuid.uuid4(),
            )
            Message.objects.create(
                session=session, role="helper", chat_type="helper", content=LONG * 4
            )
            ids.append(asked.client_message_id)
    return ids


DROPPED = "dropped a websocket whose client stopped reading"


def _logged(log, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} never logged"
        time.sleep(0.05)


async def test_a_socket_whose_client_stops_reading_is_dropped(alice, alice_session, tmp_path):
    """A resend of a stored message redraws the page once after each new frame: about twenty
    of them, each after another tab's question, about 6 MB, to a client that reads nothing (the
    kernel's buffers take up to 4 MB of it). Before, the server held the rest, whatever its
    size."""
    asked = await sync_to_async(_long_helper_chat)(alice_session)
    cookie = await login_cookie(alice)
    log = tmp_path / "daphne.log"
    env = {
        "ANTHROPIC_API_KEY": "",
        "OFFLINE_TOKEN_DELAY": "0",
        "CHAT_MESSAGES_PER_LEARNER": "1000/minute",
        "MAX_UNSENT_SOCKET_BYTES": str(64 * 1024),
    }
    with daphne(database_url(), env, log_path=log) as (_, port):
        address = f"ws://127.0.0.1:{port}/ws/sessions/{alice_session.pk}/"
        headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
        slow_reader = socket.socket()
        slow_reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
        slow_reader.connect(("127.0.0.1", port))
        async with (
            websockets.connect(
                address,
                sock=slow_reader,
                additional_headers=headers,
                max_queue=1,  # the client library stops reading too
            ) as tab,
            websockets.connect(address, additional_headers=headers, max_size=None) as other,
        ):
            assert 'data-frame="sync"' in await tab.recv()
            assert 'data-frame="sync"' in await other.recv()
            # About twenty do it; on a busy machine a resend may come before this tab has drawn
            # the other tab's frames, and is not redrawn: so on until it is dropped.
            for client_message_id in asked:
                if DROPPED in log.read_text():
                    break
                # Something new drawn in every tab (another tab's question and its answer),
                # then this tab resends a stored message: its page is drawn again, 300 KB.
                await other.send(json.dumps({"chat": "helper", "message": "Was heißt das?"}))
                while 'data-frame="reply-finished"' not in await other.recv():
                    pass
                resend = {
                    "chat": "helper",
                    "message": LONG,
                    "client_message_id": str(client_message_id),
                }
                try:
                    await tab.send(json.dumps(resend))
                except (ConnectionError, websockets.ConnectionClosed):
                    break  # dropped already: the point
            await sync_to_async(_logged)(log, DROPPED)
            with pytest.raises(websockets.ConnectionClosedError):
                while True:
                    await tab.recv()
    assert LONG not in log.read_text()


async def test_a_frame_too_large_or_not_in_utf8_closes_with_its_code(alice, alice_session):
    """Autobahn dropped the connection without a close frame: the page could not tell why
    (the attacker's replay)."""
    cookie = await login_cookie(alice)
    with daphne(database_url(), {"ANTHROPIC_API_KEY": ""}) as (_, port):
        for frame, code in [
            ("x" * (2 * 1024 * 1024), 1009),  # over Daphne's 1 MB
            (b'{"chat": "helper", "message": "\xff"}', 1007),
        ]:
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/sessions/{alice_session.pk}/",
                additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"},
            ) as tab:
                assert 'data-frame="sync"' in await tab.recv()
                await tab.send(frame, text=True)
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:
                        await tab.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == code


class _Transport:
    """What Twisted's TCP transport holds for its peer, unsent (a client not reading)."""

    dataBuffer, offset, _tempDataLen = b"", 0, 0


def test_a_slow_reader_of_a_page_larger_than_the_limit_is_not_dropped(settings):
    """The limit is on top of the socket's largest frame: a page over it (a long helper chat)
    sent to a slow link, then the next small frame, dropped the socket, again at each
    reconnect (the attacker's replay, reading the code)."""
    from maraum.socket_limits import BoundedWebSocketProtocol

    settings.MAX_UNSENT_SOCKET_BYTES = 1000
    protocol = BoundedWebSocketProtocol()
    protocol.state, protocol.client_addr = protocol.STATE_OPEN, ("127.0.0.1", 50000)
    protocol.transport = transport = _Transport()
    sent, dropped = [], []

    def unread(payload, binary):
        sent.append(payload)
        transport._tempDataLen += len(payload)

    protocol.sendMessage = unread
    protocol.dropConnection = lambda abort: dropped.append(abort)
    protocol.serverSend("P" * 5000)  # the page, not read yet
    protocol.serverSend('{"reply": "delta"}')
    protocol.serverSend("x" * 990)
    assert (len(sent), dropped) == (3, [])
    protocol.serverSend("y")  # 1,000 bytes over the page unread: this one goes no more
    protocol.serverSend("z")
    assert (len(sent), dropped) == (3, [True])


def _longer_helper_chat(session, pairs: int) -> None:
    with acting_as_learner(session.user_id):
        for _ in range(pairs):
            Message.objects.create(session=session, role="user", chat_type="helper", content=LONG)
            Message.objects.create(session=session, role="helper", chat_type="helper", content=LONG)


async def test_a_helper_chat_over_a_mib_still_opens(alice, alice_session, offline, tmp_path):
    """A page's sync is one websocket message, and autobahn refuses one over 1 MiB: a session
    with 300 long questions to the helper closed with 1011 at every connect (the recheck
    replay). The page shows a chat's newest 100 messages; the transcript keeps them all."""
    await sync_to_async(_longer_helper_chat)(alice_session, 300)
    cookie = await login_cookie(alice)
    with daphne(database_url(), {"ANTHROPIC_API_KEY": ""}, log_path=tmp_path / "log") as (_, port):
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/sessions/{alice_session.pk}/",
            additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"},
        ) as tab:
            sync = await tab.recv()
    assert 'data-frame="sync"' in sync
    assert "501 earlier messages" in sync and "/earlier/helper/?before=" in sync  # 600 + 1
    assert sync.count('class="msg msg-helper"') + sync.count('class="msg msg-user"') == 100
