"""Many learners arriving at once: a busy server answers a socket's handshake late, and the
socket still opens (Daphne rejects a handshake not answered within its connect timeout: 5 s by
default, which an arrival storm of 500 chats on one process passed; maraum.serve allows 30)."""

import asyncio

import psycopg

from tests.chat.conftest import chat_db
from tests.chat.test_restarts import chat_socket, login_cookie
from tests.conftest import database_url
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.servers import daphne

pytestmark = chat_db


async def test_a_socket_answered_after_more_than_five_seconds_still_opens(
    alice, alice_session, tmp_path
):
    cookie = await login_cookie(alice)
    with (
        FakeAnthropic() as fake,
        daphne(
            database_url(),
            {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake.url},
            log_path=tmp_path / "daphne.log",
        ) as (_, port),
    ):
        owner = await psycopg.AsyncConnection.connect(database_url(owner=True))
        try:
            async with owner.transaction():  # the handshake's login lookup waits for this
                await owner.execute("LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE")
                opening = asyncio.ensure_future(chat_socket(port, alice_session.pk, cookie))
                await asyncio.sleep(7)  # Daphne's default would have rejected it by now
                assert not opening.done()
        finally:
            await owner.close()
        async with asyncio.timeout(15):
            socket = await opening
        try:
            assert 'data-frame="sync"' in await socket.recv()
        finally:
            await socket.close()
