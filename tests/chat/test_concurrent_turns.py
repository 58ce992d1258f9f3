"""Turns that run side by side: two chats at once, several tabs retrying, a completion racing a
new start. Nothing deadlocks, nothing is answered twice, nothing is lost."""

import asyncio
import functools
import threading
import uuid

import pytest
from django.db import connection

from chat import replies
from chat.refusals import TurnRefused
from chat.turns import accept_turn
from lib.rls import acting_as_staff
from scenarios import lifecycle
from scenarios.lifecycle import find_session
from scenarios.models import Session
from tests.chat.conftest import DELTA, FAILED, FINISHED, Tab, chat_db, settle, stored
from tests.conftest import add_message, raw_connection, run_sql
from tests.support.fake_anthropic import PlannedResponse, lorem_text

pytestmark = chat_db


def _in_thread(function, *args):
    outcome: list = []

    def run():
        try:
            outcome.append(function(*args))
        except BaseException as error:  # examined by the test
            outcome.append(error)
        finally:
            connection.close()

    return threading.Thread(target=run), outcome


@pytest.fixture
def slow_message_inserts():
    """Each message insert pauses after the session checks, so concurrent turns overlap
    there for certain (a test-only trigger, fired after the real BEFORE triggers by name)."""
    run_sql(
        "CREATE FUNCTION pause_for_test() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$;"
        " GRANT EXECUTE ON FUNCTION pause_for_test() TO maraum_learner, maraum_staff;"
        " CREATE TRIGGER zz_pause_for_test BEFORE INSERT ON messages"
        " FOR EACH ROW EXECUTE FUNCTION pause_for_test()"
    )
    try:
        yield
    finally:
        run_sql("DROP TRIGGER zz_pause_for_test ON messages; DROP FUNCTION pause_for_test()")


def _await_sleeping(watcher, count: int) -> None:
    sleeping = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event = 'PgSleep'"
    )
    while watcher.execute(sleeping).fetchone()[0] < count:
        pass


@pytest.mark.parametrize("path", ["plain", "step by step"])
def test_a_main_and_a_helper_message_at_the_same_instant_are_both_taken(
    alice, alice_session, slow_message_inserts, path
):
    """The second insert waits for the first on the session row. With a share lock taken
    first, both held one and deadlocked upgrading it for the message count."""
    session = find_session(alice.pk, alice_session.pk)
    email = alice.email if path == "plain" else None  # with it, a plain turn: one round trip
    turns = [
        _in_thread(accept_turn, alice.pk, session, chat, "Hallo!", uuid.uuid4(), None, email)
        for chat in ("main", "helper")
    ]
    for thread, _ in turns:
        thread.start()
    for thread, _ in turns:
        thread.join(15)
    outcomes = [outcome[0] for _, outcome in turns]
    assert not any(isinstance(outcome, BaseException) for outcome in outcomes), outcomes
    assert all(outcome.created and outcome.request for outcome in outcomes)
    with acting_as_staff():
        row = Session.objects.get(pk=alice_session.pk)
    assert (row.message_count_main, row.message_count_helper) == (2, 2)


def test_completing_a_session_while_a_new_start_replaces_it_does_not_deadlock(
    alice, alice_session, party, slow_message_inserts
):
    """One lock order: the session row, then the profile. The completion's reply holds the
    session row and needs the profile (its foreign key, then the count); the start with
    replace now asks for the session first, so it waits instead of holding the profile."""
    with raw_connection() as completing, raw_connection() as watcher:
        watcher.autocommit = True
        completing.execute("SELECT set_config('role', 'maraum_learner', false)")
        completing.execute("SELECT set_config('maraum.learner_id', %s, false)", [str(alice.pk)])
        reply, inserted = _in_thread(
            completing.execute,
            "INSERT INTO messages (session_id, role, chat_type, content)"
            " VALUES (%s, 'scenario', 'main', 'Tschüss!')",
            [alice_session.pk],
        )
        reply.start()
        _await_sleeping(watcher, 1)  # the reply holds the session row
        replace = functools.partial(lifecycle.start_session, replacing=alice_session.pk)
        start, started = _in_thread(replace, alice.pk, party)
        start.start()
        reply.join(15)
        assert not isinstance(inserted[0], BaseException), inserted
        completing.execute(
            "UPDATE sessions SET is_completed = true WHERE id = %s", [alice_session.pk]
        )
        completing.commit()
        start.join(15)
    assert isinstance(started[0], Session), started
    with acting_as_staff():
        old = Session.objects.get(pk=alice_session.pk)
    assert old.is_completed  # completed, not abandoned: the completion came first


def test_logging_about_a_session_while_a_start_locks_it_does_not_deadlock(alice, alice_session):
    """write_log() asks for the session before the profile, the one lock order. It took the
    profile first (the foreign key checks of its insert), so a reply's log row and a start
    replacing that session each held what the other wanted."""
    with (
        raw_connection() as starting,
        raw_connection() as logging,
        raw_connection() as watcher,
    ):
        watcher.autocommit = True
        for conn in (starting, logging):
            conn.execute("SELECT set_config('role', 'maraum_learner', false)")
            conn.execute("SELECT set_config('maraum.learner_id', %s, false)", [str(alice.pk)])
        starting.execute("SELECT 1 FROM sessions WHERE id = %s FOR UPDATE", [alice_session.pk])
        log, logged = _in_thread(
            logging.execute,
            "SELECT write_log('info', 'api_call_started', %s, %s, NULL)",
            [alice.pk, alice_session.pk],
        )
        log.start()
        _await_lock_wait(watcher, logging.info.backend_pid)
        starting.execute("SELECT * FROM begin_scenario_start()")  # the session, then the profile
        starting.commit()
        log.join(15)
        logging.commit()
    assert not isinstance(logged[0], BaseException), logged


def _await_lock_wait(watcher, pid: int) -> None:
    waiting = "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s"
    while not watcher.execute(waiting, [pid]).fetchone()[0]:
        pass


async def test_two_tabs_send_to_both_chats_at_once_and_every_message_is_answered(
    alice, alice_session, fake_anthropic, settings
):
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    fake_anthropic.default = PlannedResponse(text="Ja, gern.")
    main_tab, helper_tab = Tab(alice, alice_session.pk), Tab(alice, alice_session.pk)
    for tab in (main_tab, helper_tab):
        await tab.connect()
        await tab.receive()
    for pair in range(10):
        await asyncio.gather(
            main_tab.send(chat="main", message=f"Satz {pair}"),
            helper_tab.send(chat="helper", message=f"Frage {pair}"),
        )
        await asyncio.gather(
            main_tab.until(r'data-frame="reply-finished"[^>]*>.*msg-scenario'),
            helper_tab.until(r'data-frame="reply-finished"[^>]*>.*msg-helper'),
        )
    await settle()
    for tab in (main_tab, helper_tab):
        await tab.close()
    frames = "".join(main_tab.frames + helper_tab.frames)
    assert 'data-frame="notice"' not in frames and FAILED not in frames
    main, helper = await stored(alice_session.pk, "main"), await stored(alice_session.pk, "helper")
    assert [role for role, _ in main] == ["scenario"] + ["user", "scenario"] * 10
    assert [role for role, _ in helper] == ["helper"] + ["user", "helper"] * 10


async def test_try_again_from_five_tabs_calls_the_model_once(alice, alice_session, fake_anthropic):
    await asyncio.to_thread(add_message, alice_session, "user", "main", "Hallo?")  # unanswered
    fake_anthropic.enqueue(PlannedResponse(text="Entschuldigung! Was darf es sein?"))
    tabs = [Tab(alice, alice_session.pk) for _ in range(5)]
    for tab in tabs:
        await tab.connect()
        assert FAILED in await tab.receive()  # the page offers "Try again"
    await asyncio.gather(*(tab.send(chat="main", action="retry") for tab in tabs))
    await asyncio.gather(*(tab.until(FINISHED) for tab in tabs))
    await settle()
    for tab in tabs:
        await tab.close()
    assert fake_anthropic.request_count == 1
    assert [role for role, _ in await stored(alice_session.pk, "main")] == [
        "scenario",
        "user",
        "scenario",
    ]


@pytest.mark.parametrize(
    "chat, words, refusal, streaming",
    [
        ("helper", "Hallo!", "already sent in the other chat", False),
        ("main", "Ganz anderer Text", "already sent with other words", False),
        # Before, the process streaming its reply took the resend for the same message.
        ("main", "Ganz anderer Text", "already sent with other words", True),
    ],
)
async def test_a_message_id_sent_again_to_the_other_chat_or_with_other_words_is_refused(
    alice, alice_session, fake_anthropic, chat, words, refusal, streaming
):
    fake_anthropic.default = PlannedResponse(text=lorem_text(20), tokens_per_second=40)
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    same_id = str(uuid.uuid4())
    await tab.send(chat="main", message="Hallo!", client_message_id=same_id)
    await tab.until(DELTA if streaming else FINISHED)
    await tab.send(chat=chat, message=words, client_message_id=same_id)
    notice = await tab.until('data-frame="notice"')
    await settle()
    await tab.close()
    assert refusal in notice
    assert fake_anthropic.request_count == 1
    assert [role for role, _ in await stored(alice_session.pk, "helper")] == ["helper"]
    assert [content for role, content in await stored(alice_session.pk) if role == "user"] == [
        "Hallo!"
    ]


@pytest.mark.parametrize("path", ["plain", "step by step"])
def test_a_new_message_is_not_stored_while_its_chat_awaits_a_reply(alice, alice_session, path):
    session = find_session(alice.pk, alice_session.pk)
    email = alice.email if path == "plain" else None
    first = accept_turn(alice.pk, session, "main", "Eins", uuid.uuid4(), None, email)
    assert first.request is not None
    with pytest.raises(TurnRefused, match="Wait for the reply"):
        accept_turn(alice.pk, session, "main", "Zwei", uuid.uuid4(), None, email)
    with acting_as_staff():
        contents = list(Session.objects.get(pk=alice_session.pk).messages.values_list("content"))
    assert ("Eins",) in contents and ("Zwei",) not in contents  # the learner still has it


async def test_a_turn_being_stored_as_the_server_drains_is_still_answered(
    alice, alice_session, fake_anthropic, slow_message_inserts
):
    """Draining stops new turns, but a message already on its way into the database is
    answered within the grace period: before, drain looked only at the replies already
    started, and the server stopped with this one stored, claimed and never answered."""
    fake_anthropic.default = PlannedResponse(text="Gern, hier bitte.")
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.receive()  # the sync
    await tab.send(message="Ich hätte gern ein Kilo Tomaten.")
    with raw_connection() as watcher:
        watcher.autocommit = True
        await asyncio.to_thread(_await_sleeping, watcher, 1)  # the insert is under way
    assert await replies.drain(grace=10) == 0
    assert (await stored(alice_session.pk, "main"))[-1] == ("scenario", "Gern, hier bitte.")
    await tab.until(FINISHED)
    await tab.close()


async def test_alone_a_page_whose_turn_is_being_stored_as_the_server_drains_keeps_its_socket(
    alice, alice_session, fake_anthropic, slow_message_inserts, settings
):
    """Its socket closed at once (its reply had not started), and the page saw neither its
    message nor the reply, stored while no page was there (the attacker's replay). Alone: on
    Redis every page moves at once, to another process."""
    from chat import consumers

    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    fake_anthropic.default = PlannedResponse(text="Gern, hier bitte.")
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.receive()  # the sync
    await tab.send(message="Ich hätte gern ein Kilo Tomaten.")
    with raw_connection() as watcher:
        watcher.autocommit = True
        await asyncio.to_thread(_await_sleeping, watcher, 1)  # the insert is under way
    draining = asyncio.ensure_future(consumers.drain(grace=10))
    finished = await tab.until(FINISHED)  # the socket stays open for the whole reply
    assert "Gern, hier bitte." in finished
    assert await draining == 0
    await tab.close()


async def test_the_database_work_of_many_turns_runs_side_by_side(settings):
    """As many at once as the pool has connections: on the event loop's own executor at most
    min(32, cores + 4) ran (6 on 2 cores), and at 200 chats turns waited for each other."""
    assert settings.DATABASE_THREADS >= 16
    together = threading.Barrier(16, timeout=10)

    def turns_database_work():
        together.wait()  # broken (an error) unless all 16 run at once

    await asyncio.gather(*(replies.in_db(turns_database_work) for _ in range(16)))
