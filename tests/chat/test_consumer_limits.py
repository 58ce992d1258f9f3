"""What the socket refuses: strangers, other sites, oversize and malformed frames, floods."""

import json

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from maraum.asgi import application
from tests.chat.conftest import FINISHED, Tab, chat_db, events, settle, socket_to, stored
from tests.conftest import complete

pytestmark = chat_db


async def test_anonymous_visitors_are_refused(alice_session):
    tab = Tab(AnonymousUser(), alice_session.pk)
    await tab.connect()
    assert await tab.close_code() == 4401  # accepted first, so the page sees the code


async def test_another_learner_cannot_connect(bob, alice_session):
    tab = Tab(bob, alice_session.pk)
    await tab.connect()
    assert await tab.close_code() == 4403


async def test_a_page_from_another_site_cannot_open_the_socket(alice_session):
    communicator = socket_to(
        application,
        f"/ws/sessions/{alice_session.pk}/",
        headers=[(b"origin", b"https://evil.example"), (b"host", b"localhost")],
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_too_long_messages_get_an_inline_error_and_are_not_stored(
    alice, alice_session, fake_anthropic
):
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="a" * 1001)
    notice = await tab.until('id="main-error"')
    assert "at most 1,000 characters" in notice and "1,001" in notice
    await tab.close()
    assert len(await stored(alice_session.pk)) == 2  # the two opening messages only
    assert fake_anthropic.request_count == 0


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("not json", "could not be read"),
        (json.dumps(["a list"]), "could not be read"),
        (json.dumps({"chat": "other", "message": "x"}), "could not be read"),
        ("x" * 20_000, "far too long"),
        ("[" * 5000 + "]" * 5000, "could not be read"),  # RecursionError in json.loads
        ('{"chat": "main", "message": "Hallo \\ud800"}', "cannot be sent"),  # lone surrogate
        (json.dumps({"chat": "main", "message": "Hallo\u0000"}), "cannot be sent"),  # NUL
        (json.dumps({"chat": "main", "message": {"text": "Hallo"}}), "could not be read"),
        (json.dumps({"chat": "main", "message": None}), "could not be read"),
        (json.dumps({"chat": "main", "message": True}), "could not be read"),
        (json.dumps({"chat": "main", "message": "Hallo", "client_message_id": 7}), "be read"),
        (json.dumps({"chat": "main", "message": "Hallo", "action": "delete"}), "be read"),
    ],
)
async def test_bad_frames_are_refused_without_closing_the_socket(
    alice, alice_session, fake_anthropic, frame, says
):
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.receive()  # sync
    await tab.communicator.send_to(text_data=frame)
    notice = await tab.receive()
    assert 'data-frame="notice"' in notice and says in notice
    assert len(await stored(alice_session.pk)) == 2  # nothing odd was stored
    # Still open and working.
    await tab.send(message="Hallo")
    await tab.until(FINISHED)
    await tab.close()


async def test_a_frame_far_too_long_is_refused_in_the_chat_it_names(alice, alice_session):
    """Its refusal always came in the role-play's chat (the attacker's replay)."""
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.receive()  # sync
    long = "x" * 20_000
    for frame, chat in (
        (json.dumps({"message": long, "chat": "helper"}), "helper"),
        (json.dumps({"chat": "main", "message": long}), "main"),
        (json.dumps({"message": long + '","chat":"helper'}), "main"),  # in its text: escaped
    ):
        await tab.communicator.send_to(text_data=frame)
        notice = await tab.receive()
        assert f'id="{chat}-error"' in notice and "far too long" in notice
    await tab.close()


async def test_binary_frames_are_refused(alice, alice_session):
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.receive()
    await tab.communicator.send_to(bytes_data=b"\x00\x01")
    assert "Only text frames" in await tab.receive()
    await tab.close()


async def test_blank_messages_are_refused(alice, alice_session):
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="   ")
    assert "Write a message first" in await tab.until('id="main-error"')
    await tab.close()


async def test_the_message_rate_limit_refuses_a_flood(
    alice, alice_session, fake_anthropic, settings
):
    settings.CHAT_MESSAGES_PER_LEARNER = "2/minute"
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    for text in ("Eins", "Zwei"):
        await tab.send(chat="helper", message=text)
        await tab.until(FINISHED)
    await tab.send(chat="helper", message="Drei")
    assert "very quickly" in await tab.until('id="helper-error"')
    await settle()
    await tab.close()
    assert "Drei" not in [content for _, content in await stored(alice_session.pk)]
    [(_, level, metadata)] = await events("rate_limit_exceeded")
    assert level == "warn" and metadata["throttle"] == "chat-learner"


async def test_a_completed_session_takes_no_more_messages(alice, alice_session, fake_anthropic):
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await database_sync_to_async(complete)(alice_session)
    await tab.send(message="Noch etwas?")
    assert "This scene is over" in await tab.until('id="main-error"')
    await tab.close()
