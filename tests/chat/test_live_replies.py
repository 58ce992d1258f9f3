"""This process's registry of replies in flight (chat.replies): a reply leaves it when it ends,
and never takes the next reply of its chat with it."""

import asyncio
import uuid

from channels.db import database_sync_to_async

from chat import replies
from chat.turns import accept_turn
from scenarios.lifecycle import find_session
from tests.chat.conftest import chat_db, settle

pytestmark = chat_db


@database_sync_to_async
def _turn(learner, session_id, text):
    session = find_session(learner.pk, session_id)
    return accept_turn(learner.pk, session, "helper", text, uuid.uuid4(), None, learner.email)


async def test_a_reply_ending_leaves_the_next_reply_of_its_chat_in_flight(
    alice, alice_session, offline, settings, monkeypatch
):
    settings.OFFLINE_TOKEN_DELAY = 0.02
    # The first reply is stored (its claim given up) before its last frame goes out; a turn
    # taken in between starts the chat's next reply while the first is still ending.
    send_frame, second = replies.send_frame, []

    async def a_turn_taken_as_the_first_reply_ends(session_id, html):
        if 'data-frame="reply-finished"' in html and not second:
            turn = await _turn(alice, alice_session.pk, "Und noch etwas?")
            second.append(
                replies.start_reply(
                    alice.pk, alice_session.pk, "helper", turn.request, turn.main_count, "Elena"
                )
            )
        await send_frame(session_id, html)

    monkeypatch.setattr(replies, "send_frame", a_turn_taken_as_the_first_reply_ends)
    turn = await _turn(alice, alice_session.pk, "Was heißt Brot?")
    first = replies.start_reply(
        alice.pk, alice_session.pk, "helper", turn.request, turn.main_count, "Elena"
    )
    await first.task
    assert second and not second[0].task.done()
    # The second reply is still this process's to stream (and its claim to renew).
    assert replies.live_in(alice_session.pk) == {"helper": second[0]}
    await settle()
    assert replies.live_in(alice_session.pk) == {}


@database_sync_to_async
def _learners_with_sessions(count, marketplace):
    from accounts.models import User
    from tests.conftest import add_message, start_session

    sessions = []
    for index in range(count):
        user = User.objects.create_user(f"clock{index}@example.com", "x")
        session = start_session(user, marketplace)
        add_message(session, "scenario", "main", marketplace.initial_message_main)
        add_message(session, "helper", "helper", marketplace.initial_message_helper)
        sessions.append((user, session))
    return sessions


async def test_streaming_replies_share_one_frame_clock(marketplace, offline, settings, monkeypatch):
    """A timer per reply woke the event loop 20 times a second for each reply."""
    settings.OFFLINE_TOKEN_DELAY = 0.02
    settings.CHAT_FRAME_INTERVAL = 0.05
    pauses, pause = [0], replies._pause

    async def counted(seconds):
        pauses[0] += 1
        await pause(seconds)

    monkeypatch.setattr(replies, "_pause", counted)
    started = []
    learners = await _learners_with_sessions(12, marketplace)
    began = asyncio.get_running_loop().time()
    for user, session in learners:
        for chat in ("main", "helper"):
            turn = await _turn_in(user, session.pk, chat)
            started.append(
                replies.start_reply(user.pk, session.pk, chat, turn.request, turn.main_count, "F")
            )
    await settle()
    ticks = (asyncio.get_running_loop().time() - began) / settings.CHAT_FRAME_INTERVAL
    assert all(reply.text for reply in started)
    # One clock, ticking a few times a frame interval: not a pause per reply and frame.
    assert pauses[0] <= (replies._FrameClock.TICKS + 1) * ticks + 4


@database_sync_to_async
def _turn_in(learner, session_id, chat):
    session = find_session(learner.pk, session_id)
    return accept_turn(learner.pk, session, chat, "Hallo!", uuid.uuid4(), None, learner.email)
