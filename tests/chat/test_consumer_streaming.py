"""A turn over the websocket: stored message, streamed reply, stored reply, in order."""

import asyncio
import re

import pytest

from tests.chat.conftest import (
    DELTA,
    FAILED,
    FINISHED,
    STREAMING,
    Tab,
    chat_db,
    events,
    mid_reply,
    session_row,
    settle,
    stored,
    streamed_text,
)
from tests.support.fake_anthropic import PlannedResponse, lorem_text

pytestmark = chat_db


async def test_a_turn_streams_the_reply_and_stores_both_messages(
    alice, alice_session, fake_anthropic
):
    fake_anthropic.enqueue(
        PlannedResponse(
            text="Guten Tag! Die Tomaten sind heute super.", cache_read_input_tokens=900
        )
    )
    tab = Tab(alice, alice_session.pk)
    assert (await tab.connect())[0]
    sync = await tab.receive()
    assert "Guten Morgen!" in sync  # the opening line, from the database

    await tab.send(message="Ich hätte gern Tomaten.")
    await tab.until(FINISHED)
    await tab.close()

    frames = "".join(tab.frames)
    assert frames.index("Ich hätte gern Tomaten.") < frames.index(STREAMING)
    assert streamed_text(tab.frames) == "Guten Tag! Die Tomaten sind heute super."
    # Announced in German: read with the page's English voice, it was not (a newcomer's walk).
    announced = re.search(r'<p id="main-announce"[^>]*>(.*?)</p>', frames).group(1)
    assert announced.endswith('<span lang="de">Guten Tag! Die Tomaten sind heute super.</span>')
    assert await stored(alice_session.pk, "main") == [
        (
            "scenario",
            "Guten Morgen! Heute habe ich ganz frisches Obst und Gemüse – was darf es sein?",
        ),
        ("user", "Ich hätte gern Tomaten."),
        ("scenario", "Guten Tag! Die Tomaten sind heute super."),
    ]
    session = await session_row(alice_session.pk)
    assert session.message_count_main == 3 and not session.is_completed


async def test_the_model_gets_the_scene_prompt_history_and_cache_marks(
    alice, alice_session, fake_anthropic
):
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hallo!")
    await tab.until(FINISHED)
    await tab.close()

    [request] = fake_anthropic.requests
    body = request.body
    assert "Frau Hoffmann" in body["system"][0]["text"]  # the scenario's character
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert [t["role"] for t in body["messages"]] == ["user", "assistant", "user"]
    hallo, goal_note = body["messages"][-1]["content"][-2:]
    assert hallo == {"type": "text", "text": "Hallo!", "cache_control": {"type": "ephemeral"}}
    assert "goals reached so far: none yet" in goal_note["text"]  # after the cached prefix
    assert [tool["name"] for tool in body["tools"]] == ["end_scenario", "reach_goal"]
    assert body["stream"] is True


async def test_calls_are_logged_with_usage_and_never_content(alice, alice_session, fake_anthropic):
    fake_anthropic.enqueue(
        PlannedResponse(
            text="Ja, gern.",
            input_tokens=1200,
            cache_read_input_tokens=1000,
            cache_creation_input_tokens=150,
        )
    )
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Geheimnis 4711")
    await tab.until(FINISHED)
    await tab.close()

    logged = await events()
    assert [e[0] for e in logged] == ["api_call_started", "api_call_completed"]
    assert [e[2]["provider"] for e in logged] == ["anthropic", "anthropic"]
    completed = logged[1][2]
    assert completed["cache_read_input_tokens"] == 1000
    assert completed["cache_creation_input_tokens"] == 150
    assert completed["input_tokens"] == 1200 and completed["latency_ms"] >= 0
    assert "4711" not in str(logged) and "gern" not in str(logged)


async def test_no_content_reaches_the_log_at_debug(alice, alice_session, fake_anthropic, settings):
    """At LOG_LEVEL=DEBUG the SDK logged every model request whole, the learner's line with it
    (the attacker's replay). Nor does Django's backend log a statement's parameters, with
    DEBUG on too."""
    import copy
    import io
    import logging.config

    from asgiref.sync import sync_to_async

    from learning import deck

    written = io.StringIO()
    at_debug = copy.deepcopy(settings.LOGGING)
    at_debug["root"]["level"] = "DEBUG"
    at_debug["handlers"]["console"]["stream"] = written
    settings.DEBUG = True
    logging.config.dictConfig(at_debug)
    try:
        fake_anthropic.enqueue(PlannedResponse(text="Ja, Geheimantwort 0815."))
        tab = Tab(alice, alice_session.pk)
        await tab.connect()
        await tab.send(message="Geheimnis 4711")
        await tab.until(FINISHED)
        await tab.close()
        await sync_to_async(deck.keep)(alice.pk, "das Geheimwort 4242")  # through the ORM
        logging.getLogger("tests").debug("at debug")
    finally:
        logging.config.dictConfig(settings.LOGGING)
    log = written.getvalue()
    assert "at debug" in log
    assert "4711" not in log and "0815" not in log and "4242" not in log


async def test_the_first_token_goes_out_at_once(alice, alice_session, fake_anthropic, settings):
    """Not held back for the frame clock: with a minute between frames, the one token the model
    sends before it stalls reaches the tab while the reply is still running. (It asserted the
    first frame of a fast stream held one token, which a busy machine broke: the sender may
    wake to find two tokens in, and sends both.)"""
    settings.CHAT_FRAME_INTERVAL = settings.CHAT_FRAME_INTERVAL_MAX = 60.0
    settings.MODEL_RETRY_ATTEMPTS = 1
    settings.MODEL_TIMEOUT = 2.0
    fake_anthropic.enqueue(PlannedResponse(text="Hallo du da", break_after=1, break_mode="hang"))
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send()
    first = await tab.until(f"{DELTA}|{FAILED}")
    assert re.match(DELTA, first), first
    assert streamed_text([first]) == "Hallo "
    await tab.until(FAILED)  # the stalled reply times out; nothing is left running
    await tab.close()


async def test_token_frames_are_coalesced(alice, alice_session, fake_anthropic, settings):
    settings.CHAT_FRAME_INTERVAL = 0.05
    # 120 tokens at 400 per second: 0.3 s of streaming.
    fake_anthropic.enqueue(PlannedResponse(text=lorem_text(120), ttft=0.01, tokens_per_second=400))
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send()
    await tab.until(FINISHED)
    await tab.close()

    sent = [f for f in tab.frames if f.startswith('{"reply"')]
    assert streamed_text(sent) == lorem_text(120)
    # ≤ 20 frames a second over ~0.3 s, plus the first and the last: far fewer than 120.
    assert len(sent) <= 12


async def test_the_helper_sees_the_recent_role_play(alice, alice_session, fake_anthropic):
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(chat="main", message="Was kosten die Äpfel?")
    await tab.until(FINISHED)
    fake_anthropic.enqueue(PlannedResponse(text='"Äpfel" means apples.'))
    await tab.send(chat="helper", message="What did she just say?")
    await tab.until(FINISHED)
    await tab.close()

    helper_request = fake_anthropic.requests[-1].body
    assert "間" in helper_request["system"][0]["text"]
    question = helper_request["messages"][-1]["content"]
    assert "Learner: Was kosten die Äpfel?" in question[0]["text"]
    assert "Frau Hoffmann: Hallo! Was darf es sein?" in question[0]["text"]
    assert question[-1]["text"] == "What did she just say?"
    assert "tools" not in helper_request  # the helper never closes the scene
    assert await stored(alice_session.pk, "helper") == [
        ("helper", alice_session.scenario.initial_message_helper),
        ("user", "What did she just say?"),
        ("helper", '"Äpfel" means apples.'),
    ]


async def test_the_helper_is_sent_its_latest_messages_not_its_whole_chat(
    alice, alice_session, fake_anthropic
):
    """A completed scene's helper takes questions for as long as the learner likes, and its
    whole chat went with each (81 messages: 88 KB a request, growing to the model's window:
    the attacker's replay). Its latest go, from a question; the oldest are dropped a dozen at
    a time, so the prefix the API caches stays the same in between."""
    from channels.db import database_sync_to_async

    from chat.prompting import HELPER_HISTORY_MESSAGES, HELPER_HISTORY_STEP
    from tests.conftest import add_message

    @database_sync_to_async
    def ask_and_answer(number):
        add_message(alice_session, "user", "helper", f"Question {number}?")
        add_message(alice_session, "helper", "helper", f"Answer {number}.")

    for number in range(40):  # after the helper's opening line: 81 messages
        await ask_and_answer(number)
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    sent = []
    for question in ("One more?", "And another?"):
        fake_anthropic.enqueue(PlannedResponse(text="Sure."))
        await tab.send(chat="helper", message=question)
        await tab.until(FINISHED)
        sent.append(fake_anthropic.requests[-1].body["messages"])
    await tab.close()
    for messages, question in zip(sent, ("One more?", "And another?"), strict=True):
        texts = [block["text"] for turn in messages for block in turn["content"]]
        assert messages[0]["role"] == "user" and texts[0].startswith("Question ")
        assert texts[-1] == question and texts[-2].startswith("<roleplay_so_far>")
        assert HELPER_HISTORY_MESSAGES - HELPER_HISTORY_STEP < len(texts) - 1
        assert len(texts) - 1 <= HELPER_HISTORY_MESSAGES
        assert "Question 0?" not in texts
    assert sent[0][0] == sent[1][0]  # the same start: cached


async def test_a_resent_message_is_stored_once_and_answered_once(
    alice, alice_session, fake_anthropic
):
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hallo!", client_message_id="8d5e1f7e-5b0e-4a53-9a56-2f1b6f7f6b01")
    await tab.until(FINISHED)
    # The page did not see the echo (say, a reconnect) and sends the same message again.
    await tab.send(message="Hallo!", client_message_id="8d5e1f7e-5b0e-4a53-9a56-2f1b6f7f6b01")
    await tab.until('data-frame="sync"')  # answered with a re-sync, not a new turn
    await settle()
    await tab.close()

    assert [role for role, _ in await stored(alice_session.pk, "main")] == [
        "scenario",
        "user",
        "scenario",
    ]
    assert fake_anthropic.request_count == 1


async def test_a_reply_survives_a_disconnect_and_shows_on_reconnect(
    alice, alice_session, fake_anthropic
):
    tab = await mid_reply(alice, alice_session.pk, fake_anthropic)  # streaming has begun
    await tab.close()  # the learner's connection drops mid-reply

    await settle()
    assert (await stored(alice_session.pk, "main"))[-1] == ("scenario", lorem_text(30))

    again = Tab(alice, alice_session.pk)
    await again.connect()
    assert lorem_text(30) in await again.receive()
    await again.close()


async def test_two_tabs_both_see_the_stream(alice, alice_session, fake_anthropic):
    first, second = Tab(alice, alice_session.pk), Tab(alice, alice_session.pk)
    for tab in (first, second):
        await tab.connect()
        await tab.receive()  # sync
    await first.send(message="Zwei Tabs!")
    await asyncio.gather(first.until(FINISHED), second.until(FINISHED))
    for tab in (first, second):
        assert "Zwei Tabs!" in "".join(tab.frames)
        assert streamed_text(tab.frames) == "Hallo! Was darf es sein?"
        await tab.close()


async def test_a_reply_that_joins_a_stream_midway_gets_the_text_so_far(
    alice, alice_session, fake_anthropic
):
    first = await mid_reply(alice, alice_session.pk, fake_anthropic, 40)
    late = Tab(alice, alice_session.pk)
    await late.connect()
    sync = await late.receive()
    assert STREAMING in sync and "lorem" in sync
    await late.until(FINISHED)
    await settle()
    for tab in (first, late):
        await tab.close()


@pytest.mark.parametrize("chat", ["main", "helper"])
async def test_one_reply_in_flight_per_chat(alice, alice_session, fake_anthropic, chat):
    tab = await mid_reply(alice, alice_session.pk, fake_anthropic, 20, chat=chat, message="Eins")
    await tab.send(chat=chat, message="Zwei")
    notice = await tab.until(f'id="{chat}-error"')
    assert "<span data-until-reply>Wait for the reply" in notice  # the page drops it after
    await settle()
    await tab.close()
    assert [c for _, c in await stored(alice_session.pk, chat) if c in ("Eins", "Zwei")] == ["Eins"]


async def test_a_resend_while_its_reply_streams_shows_the_stream(
    alice, alice_session, fake_anthropic
):
    same_id = "5c1f3c52-4a8e-4a34-8d8c-0f6f3b1c2d11"
    tab = await mid_reply(
        alice, alice_session.pk, fake_anthropic, message="Hallo!", client_message_id=same_id
    )
    await tab.send(message="Hallo!", client_message_id=same_id)  # e.g. queued across a blip
    sync = await tab.until('data-frame="(sync|notice)"')
    assert 'data-frame="sync"' in sync and STREAMING in sync
    await tab.until(FINISHED)
    await settle()
    await tab.close()
    assert fake_anthropic.request_count == 1
    assert [c for _, c in await stored(alice_session.pk, "main")].count("Hallo!") == 1


async def test_the_model_is_asked_before_the_learners_bubble_is_drawn(
    alice, alice_session, fake_anthropic, monkeypatch
):
    """Drawing the bubble does not delay the first token; it still reaches the tab first."""
    from chat import frames, replies

    happened = []
    provider, draw = replies.get_provider, frames.learner_message

    class Recording:
        def stream(self, request, on_retry):
            happened.append("model asked")
            return provider().stream(request, on_retry)

    def drawn(*args, **kwargs):
        happened.append("bubble drawn")
        return draw(*args, **kwargs)

    monkeypatch.setattr(replies, "get_provider", Recording)
    monkeypatch.setattr(frames, "learner_message", drawn)
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.receive()
    await tab.send(message="Ich hätte gern Tomaten.")
    await tab.until(FINISHED)
    await tab.close()

    assert happened == ["model asked", "bubble drawn"]
    shown = "".join(tab.frames)
    assert shown.index("Ich hätte gern Tomaten.") < shown.index(STREAMING)


async def test_a_reply_failing_at_once_still_shows_the_learners_message(
    alice, alice_session, fake_anthropic, monkeypatch
):
    from chat import replies
    from chat.providers import ModelError

    class FailingAtOnce:
        async def stream(self, request, on_retry):
            raise ModelError("api_error")
            yield  # an async generator that fails before its first await

    monkeypatch.setattr(replies, "get_provider", FailingAtOnce)
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.receive()
    await tab.send(message="Ich hätte gern Tomaten.")
    await tab.until('data-slot="retry"')
    await tab.close()

    shown = "".join(tab.frames)
    assert shown.index("Ich hätte gern Tomaten.") < shown.index('data-slot="retry"')


async def test_new_lines_the_deck_holds_are_drawn_as_kept(alice, alice_session, fake_anthropic):
    """They were drawn with "Keep" until a reload (clicking it said "In your deck")."""
    from asgiref.sync import sync_to_async

    from learning import deck

    await sync_to_async(deck.keep)(alice.pk, "Ich hätte gern Tomaten.")
    await sync_to_async(deck.keep)(alice.pk, "Gern, sonst noch etwas?")
    fake_anthropic.enqueue(PlannedResponse(text="Gern, sonst noch etwas?"))
    fake_anthropic.enqueue(PlannedResponse(text="Das macht zwei Euro."))
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Ich hätte gern Tomaten.")
    kept_reply = await tab.until(FINISHED)
    await tab.send(message="Und zwei Gurken.")
    new_reply = await tab.until(FINISHED)
    await tab.close()

    kept_line, new_line = [f for f in tab.frames if 'data-frame="learner-message"' in f]
    for kept in (kept_line, kept_reply.split("</article>")[0]):
        # Its Keep is for words selected in it, shown with them (the last note).
        assert "In your deck\u00a0✓" in kept and "data-words-only" in kept
    for new in (new_line, new_reply.split("</article>")[0]):
        assert "keep-form" in new and "In your deck" not in new and "data-words-only" not in new


async def test_a_new_helper_answers_phrases_the_deck_holds_are_drawn_as_kept(
    alice, alice_session, fake_anthropic
):
    """They were offered to keep until pressed, which answered "is in your deck" (the last
    note's left item)."""
    from asgiref.sync import sync_to_async

    from learning import deck

    await sync_to_async(deck.keep)(alice.pk, "die Tomate")
    fake_anthropic.enqueue(
        PlannedResponse(text="„Die Tomate“ (the tomato), „die Gurke“ (cucumber).")
    )
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(chat="helper", message="What is tomato?")
    answer = (await tab.until(FINISHED)).split("</article>")[0]
    await tab.close()

    assert '„<span lang="de">Die Tomate</span>“ in your deck\u00a0✓' in answer
    assert 'value="Die Tomate"' not in answer and 'name="german" value="die Gurke"' in answer


async def test_a_line_kept_in_one_tab_is_drawn_kept_in_the_learners_other_tabs(
    alice, alice_session, bob, fake_anthropic
):
    """A line kept in one tab still offered "Keep" in the learner's other tabs until a
    reload. Every open chat page of the learner hears of the card; another learner's do not."""
    import json

    from asgiref.sync import sync_to_async
    from django.test import Client

    from chat import conversations
    from scenarios.models import Scenario

    bobs_session = await sync_to_async(conversations.start)(
        bob.pk, await Scenario.objects.aget(code="bakery")
    )
    tabs = [Tab(alice, alice_session.pk), Tab(alice, alice_session.pk), Tab(bob, bobs_session.pk)]
    for tab in tabs:
        await tab.connect()
        await tab.receive()  # the page's sync

    def keep(line):
        client = Client()
        client.force_login(alice)
        response = client.post("/deck/keep/", {"german": line}, headers={"HX-Request": "true"})
        assert response.status_code == 200, response.content

    await sync_to_async(keep)("Guten Morgen!")
    for tab in tabs[:2]:
        assert json.loads(await tab.until(r'^\{"kept"')) == {"kept": ["Guten Morgen!"]}
    await sync_to_async(keep)("guten morgen!")  # in the deck already: no new card, no frame
    await tabs[0].send(message="Danke.")
    await tabs[0].until(FINISHED)
    for tab in tabs:
        await tab.close()
    kept = [[f for f in tab.frames if f.startswith('{"kept"')] for tab in tabs]
    assert kept == [[kept[0][0]], [kept[0][0]], []]


@pytest.mark.parametrize("kind", ["too long", "cut as it streamed", "unprintable"])
async def test_a_reply_the_database_could_not_hold_is_stored_as_it_can(
    alice, alice_session, fake_anthropic, kind
):
    """Over 8,000 characters, or with a NUL, the reply streamed whole, then was lost with
    "Try again" as the database refused it, each time the model said it (the attacker's
    replay)."""
    from chat.models import MAX_CONTENT_LENGTH

    if kind == "too long":
        text = " ".join(f"Wort{n}" for n in range(1500))  # 12,389 characters
    elif kind == "cut as it streamed":  # it was stored cut, without the ellipsis (the recheck)
        text = "A" * 7999 + " Rest des Satzes wird verworfen."
    else:
        text = "Guten\x00 Tag\x1b! Hier\ud800 \u202ebitte."  # and a direction override
    fake_anthropic.enqueue(PlannedResponse(text=text))
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hallo!")
    finished = await tab.until(FINISHED)
    await settle()
    await tab.close()
    role, reply = (await stored(alice_session.pk, "main"))[-1]
    assert role == "scenario" and "Try again" not in finished
    if kind == "too long":
        assert len(reply) == MAX_CONTENT_LENGTH and reply.endswith("…")
        assert reply.startswith("Wort0 Wort1 ")
    elif kind == "cut as it streamed":
        assert len(reply) <= MAX_CONTENT_LENGTH and reply.endswith("…")
    else:
        assert reply == "Guten Tag! Hier bitte."


async def test_a_reply_with_nothing_visible_is_no_reply(alice, alice_session, fake_anthropic):
    """Zero-width spaces alone were stored as a blank message (the attacker's recheck)."""
    fake_anthropic.enqueue(PlannedResponse(text="\u200b\u200b \u200b"))
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hallo!")
    failed = await tab.until("Try again")
    await settle()
    await tab.close()
    assert "Try again" in failed
    assert [role for role, _ in await stored(alice_session.pk, "main")] == ["scenario", "user"]


async def test_what_no_message_may_hold_is_not_streamed_either(
    alice, alice_session, fake_anthropic
):
    """A lone surrogate in a reply's text sank the batch of frames it went to Redis in, other
    learners' with it, and failed the tab's own send (the attacker's replay): the stored reply
    never held it, nor NUL, nor a direction override, and now the streamed text does not."""
    fake_anthropic.enqueue(PlannedResponse(text="Guten\ud800 Tag!\x00 Wie\u202e geht es?"))
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hallo!")
    await tab.until(FINISHED)
    await tab.close()
    assert streamed_text(tab.frames) == "Guten Tag! Wie geht es?"
    assert (await stored(alice_session.pk, "main"))[-1] == ("scenario", "Guten Tag! Wie geht es?")
