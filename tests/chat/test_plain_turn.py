"""The plain turn in one round trip (take_plain_turn(), store_plain_reply()): what it keeps,
and every turn it hands to the step-by-step path with nothing kept."""

import uuid

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from accounts.channels_auth import SocketLogin
from chat import allowance, claims, prompting
from chat.models import Message
from chat.providers import ReplyDone
from chat.refusals import ClaimLost, LoginEnded, ReplyInFlight, SessionGone, TurnRefused
from chat.turns import accept_turn, store_reply
from eventlog.models import Log
from lib.rls import acting_as_learner, acting_as_staff
from scenarios.lifecycle import find_session
from scenarios.models import Session
from tests.chat.conftest import chat_db
from tests.conftest import add_message, run_sql, staff_get, start_session
from tests.support.logins import login_session_key

pytestmark = chat_db

DONE = ReplyDone(ended=False, usage={"input_tokens": 10, "output_tokens": 5}, attempts=1)


@pytest.fixture
def session(alice, marketplace):
    session = start_session(alice, marketplace)
    add_message(session, "scenario", "main", "Guten Morgen!")
    return find_session(alice.pk, session.pk)


def _messages_left(learner) -> float:
    with acting_as_learner(learner.pk):
        return allowance.CHAT_MESSAGES.tokens_left(learner.pk)


def _calls_left(learner) -> int:
    with acting_as_learner(learner.pk):
        return allowance.calls_left(learner.email)


def _stored(session) -> list[tuple[str, str]]:
    with acting_as_staff():
        return list(
            Message.objects.filter(session=session)
            .order_by("sent_at", "id")
            .values_list("role", "content")
        )


def _events(session, event: str) -> int:
    with acting_as_staff():
        return Log.objects.filter(session_id=session.pk, event_type=event).count()


def take(learner, session, content="Hallo!", chat="main", client_id=None, email=None):
    return accept_turn(
        learner.pk, session, chat, content, client_id or uuid.uuid4(), None, email or learner.email
    )


def test_a_plain_turn_spends_one_message_and_one_call(alice, session):
    messages, calls = _messages_left(alice), _calls_left(alice)
    turn = take(alice, session)
    assert turn.created and turn.request and turn.main_count == 3
    assert turn.calls_left == calls - 1 == _calls_left(alice)
    assert _messages_left(alice) == pytest.approx(messages - 1, abs=0.1)
    assert _stored(session)[-1] == ("user", "Hallo!")
    assert _events(session, "api_call_started") == 1
    with acting_as_learner(alice.pk):  # the claim is this process's, until the reply
        assert not claims.claim(session.pk, "main")


def test_a_resend_is_stored_once_and_spends_once_more(alice, session):
    client_id = uuid.uuid4()
    take(alice, session, client_id=client_id)
    store_reply(alice.pk, session.pk, "main", "Guten Tag!", DONE, 3, 100)
    messages, calls = _messages_left(alice), _calls_left(alice)

    resent = take(alice, session, client_id=client_id)  # answered already: no call

    assert not resent.created and resent.request is None
    assert [content for _, content in _stored(session)] == ["Guten Morgen!", "Hallo!", "Guten Tag!"]
    assert _messages_left(alice) == pytest.approx(messages - 1, abs=0.1)  # counted once
    assert _calls_left(alice) == calls  # given back: no call followed
    assert _events(session, "api_call_started") == 1


def test_a_resend_in_the_other_chat_is_refused(alice, session):
    client_id = uuid.uuid4()
    take(alice, session, client_id=client_id)
    with pytest.raises(TurnRefused, match="other chat"):
        take(alice, session, chat="helper", client_id=client_id)


def test_the_message_that_fills_the_scene_completes_it_without_a_call(alice, session):
    for index in range(prompting.HARD_CAP - 2):
        add_message(session, "user" if index % 2 == 0 else "scenario", "main", f"Satz {index}")
    calls = _calls_left(alice)

    turn = take(alice, session, content="Tschüss!")

    assert turn.completed and turn.request is None and turn.main_count == prompting.HARD_CAP
    assert staff_get(Session, pk=session.pk).is_completed
    assert [c for _, c in _stored(session)].count("Tschüss!") == 1
    assert _calls_left(alice) == calls
    assert _events(session, "api_call_started") == 0


def test_a_message_while_a_reply_is_on_its_way_is_refused_and_its_call_given_back(alice, session):
    take(alice, session)
    calls = _calls_left(alice)
    with pytest.raises(ReplyInFlight):
        take(alice, session, content="Noch eine Frage")
    assert _calls_left(alice) == calls
    assert "Noch eine Frage" not in [content for _, content in _stored(session)]


def test_a_flood_is_refused_and_logged_once(alice, session, settings):
    settings.CHAT_MESSAGES_PER_LEARNER = "1/minute"
    take(alice, session, chat="helper")
    store_reply(alice.pk, session.pk, "helper", "Gern.", DONE, 2, 100)
    for _ in range(3):
        with pytest.raises(TurnRefused, match="very quickly"):
            take(alice, session, chat="helper", content="Und?")
    assert _events(session, "rate_limit_exceeded") == 1
    assert "Und?" not in [content for _, content in _stored(session)]


def test_a_login_that_ended_takes_no_turn(alice, session):
    with acting_as_staff():
        type(alice).objects.filter(pk=alice.pk).update(is_active=False)
    with pytest.raises(LoginEnded):
        take(alice, session)
    assert _stored(session) == [("scenario", "Guten Morgen!")]


def test_a_plain_turn_checks_its_login_by_the_session_keys_digest(alice, session):
    key = login_session_key(alice)
    login = SocketLogin(key, alice.password)
    with CaptureQueriesContext(connection) as sent:
        turn = accept_turn(alice.pk, session, "main", "Hallo!", uuid.uuid4(), login, alice.email)
    assert turn.created and turn.request
    # A server may log a failing statement's text: no credential goes in it.
    queries = [q["sql"] for q in sent.captured_queries]
    assert any("take_plain_turn" in query and "Hallo!" in query for query in queries)
    assert not any(
        part in query for query in queries for part in (key, alice.email, alice.password)
    )
    store_reply(alice.pk, session.pk, "main", "Guten Tag!", DONE, turn.main_count, 100)

    SessionStore(session_key=key).delete()  # logged out, anywhere
    with pytest.raises(LoginEnded):
        accept_turn(alice.pk, session, "main", "Noch da?", uuid.uuid4(), login, alice.email)


def test_a_turn_whose_request_cannot_be_built_gives_its_claim_up(alice, session, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a scene the prompt cannot be built from")

    monkeypatch.setattr(prompting, "build_request", broken)
    with pytest.raises(RuntimeError):
        take(alice, session)
    with acting_as_learner(alice.pk):
        assert claims.claim(session.pk, "main")  # free again: the next turn can be answered


def test_a_plain_reply_whose_claim_was_taken_over_keeps_nothing(alice, session):
    turn = take(alice, session)
    with acting_as_staff():  # another process took the claim over
        run_sql(
            "UPDATE reply_claims SET worker = 'elsewhere:1:x' WHERE session_id = %s", [session.pk]
        )
    with pytest.raises(ClaimLost):
        store_reply(alice.pk, session.pk, "main", "Guten Tag!", DONE, turn.main_count, 100)
    assert "Guten Tag!" not in [content for _, content in _stored(session)]
    assert _events(session, "api_call_completed") == 0


def test_a_plain_reply_to_a_deleted_session_keeps_nothing(alice, session):
    take(alice, session)
    with acting_as_staff():
        Session.objects.filter(pk=session.pk).delete()
    with pytest.raises(SessionGone):
        store_reply(alice.pk, session.pk, "main", "Guten Tag!", DONE, 3, 100)
    with acting_as_staff():
        assert not Message.objects.filter(content="Guten Tag!").exists()


def test_a_plain_turn_reaches_no_other_learners_session(alice, bob, marketplace):
    # The socket refuses another learner's session at its door (4403); below it, row-level
    # security refuses the message.
    bobs = start_session(bob, marketplace)
    with pytest.raises(DatabaseError, match="row-level security"):
        take(alice, bobs)
    assert _stored(bobs) == []


@pytest.mark.parametrize("plain", [True, False], ids=["plain", "step-by-step"])
def test_a_new_line_the_deck_holds_is_taken_and_stored_as_kept(alice, session, plain):
    """A new line the learner's deck held already was drawn with "Keep" until a reload."""
    from learning import deck

    deck.keep(alice.pk, "Zwei Kilo Äpfel, bitte.")
    deck.keep(alice.pk, "Gern, sonst noch etwas?")
    email = alice.email if plain else None  # without it, a turn is taken step by step
    done = DONE if plain else ReplyDone(ended=False, usage={}, attempts=1, goals_reached=(1,))

    def turn(content, chat="main"):
        return accept_turn(alice.pk, session, chat, content, uuid.uuid4(), None, email)

    def reply(text, chat="main"):
        return store_reply(alice.pk, session.pk, chat, text, done, 3, 100)

    assert turn(" zwei kilo äpfel, bitte.").kept
    assert reply("Gern, sonst noch etwas?").kept
    assert not turn("Was kosten die Birnen?").kept
    assert not reply("Zwei Euro das Kilo.").kept
    assert not turn("Zwei Kilo Äpfel, bitte.", chat="helper").kept  # no Keep in the helper
    assert not reply("Gern, sonst noch etwas?", chat="helper").kept


@pytest.mark.parametrize("path", ["plain", "step by step", "retry"])
def test_a_throttled_turn_in_a_session_gone_ends_it(alice, session, settings, path):
    """The socket closes (SessionEnded) as at any turn in a gone session: a throttled one was
    told to wait, and only the next frame closed the page (the ops replay)."""
    from chat.refusals import SessionEnded
    from chat.turns import prepare_retry

    settings.CHAT_MESSAGES_PER_LEARNER = "1/minute"
    take(alice, session, chat="helper")
    with acting_as_staff():
        run_sql("DELETE FROM sessions WHERE id = %s", [session.pk])
    with pytest.raises(TurnRefused) as refused:
        if path == "plain":
            take(alice, session)
        elif path == "step by step":  # without the login's email
            accept_turn(alice.pk, session, "main", "Hallo!", uuid.uuid4(), None, None)
        else:
            prepare_retry(alice.pk, session.pk, "main")
    assert type(refused.value) is SessionEnded


def _helper_chat(learner, session, count: int, first_id=None) -> None:
    """`count` helper messages, questions and answers in turn, from an hour ago."""
    from datetime import timedelta

    from django.utils import timezone

    start = timezone.now() - timedelta(hours=1)
    with acting_as_learner(learner.pk):
        Message.objects.bulk_create(
            Message(
                session_id=session.pk,
                user_id=learner.pk,
                role="user" if number % 2 == 0 else "helper",
                chat_type="helper",
                content=f"Frage {number}?" if number % 2 == 0 else f"Antwort {number}.",
                sent_at=start + timedelta(seconds=number),
                client_message_id=first_id if number == 0 else None,
            )
            for number in range(count)
        )


@pytest.mark.parametrize("path", ["plain", "step by step", "retry"])
def test_a_turn_reads_only_the_helper_chats_latest_messages(alice, session, monkeypatch, path):
    """A completed scene's helper takes questions without end, and every turn read the whole
    session: 2,000 messages took 40-130 ms a turn (the last note's item). A turn now reads the
    role-play and the helper chat's latest messages, and asks what it asked with all of it."""
    from chat import goals, messages
    from chat.turns import prepare_retry

    _helper_chat(alice, session, 151)  # the last one a question awaiting its answer
    with acting_as_learner(alice.pk):
        everything = messages.of_session(session.pk)
        states = goals.goal_states(session.pk)
    expected = prompting.build_request(
        session.scenario, "helper", everything, level=session.level, goals=states
    )
    built = []
    from_db = Message.from_db.__func__
    monkeypatch.setattr(
        Message, "from_db", classmethod(lambda cls, *args: built.append(1) or from_db(cls, *args))
    )
    if path == "retry":
        request, _ = prepare_retry(alice.pk, session.pk, "helper")
    else:
        expected = prompting.build_request(
            session.scenario,
            "helper",
            [*everything, Message(role="user", chat_type="helper", content="Und noch eine?")],
            level=session.level,
            goals=states,
        )
        request = accept_turn(
            alice.pk,
            session,
            "helper",
            "Und noch eine?",
            uuid.uuid4(),
            None,
            alice.email if path == "plain" else None,
        ).request
    main = 3  # the two openings and the character's greeting
    assert len(built) <= main + prompting.HELPER_HISTORY_MESSAGES
    assert request.messages == expected.messages and request.turn == expected.turn
    assert request.turn == 76 + (path != "retry")


@pytest.mark.parametrize("count", range(0, 80, 7))
def test_the_helpers_latest_messages_ask_as_its_whole_chat(count):
    """The window of the helper's chat sent with a question, from its latest messages and how
    many came before, is the window from all of it."""
    helper = [
        Message(role="user" if n % 3 != 2 else "helper", chat_type="helper", content=f"{n}")
        for n in range(count)
    ]
    whole = prompting._helper_window_start(helper)
    latest = prompting.HELPER_HISTORY_MESSAGES
    earlier = max(count - latest, 0)
    start = prompting._helper_window_start(helper[earlier:], earlier)
    assert helper[earlier:][start:] == helper[whole:]


def test_a_resent_helper_question_older_than_the_latest_read_is_not_asked_again(alice, session):
    old_id = uuid.uuid4()
    _helper_chat(alice, session, 60, first_id=old_id)
    turn = take(alice, session, content="Frage 0?", chat="helper", client_id=old_id)
    assert turn.request is None and not turn.created and turn.message.content == "Frage 0?"
    assert _events(session, "api_call_started") == 0
