"""A chat turn costs a fixed number of queries, however long the session is: a plain turn one
round trip each way, any other turn a fixed few statements."""

import uuid

import pytest
from django.db import connection

from chat.models import Message
from chat.providers import ReplyDone
from chat.turns import accept_turn, store_reply
from eventlog.models import Log
from scenarios.lifecycle import find_session
from scenarios.prompts import load_prompt, prompt_path
from tests.chat.conftest import chat_db
from tests.conftest import add_message, staff_get, start_session

DONE = ReplyDone(ended=False, usage={"input_tokens": 10, "output_tokens": 5}, attempts=1)


def _session_with(alice, scenario, earlier_messages: int):
    session = start_session(alice, scenario)
    add_message(session, "scenario", "main", "Guten Morgen!")
    for index in range(earlier_messages):
        add_message(session, "user" if index % 2 else "scenario", "main", f"Satz {index}")
    return find_session(alice.pk, session.pk)


def _transaction_status() -> str:
    return connection.connection.info.transaction_status.name


@chat_db
@pytest.mark.parametrize("earlier_messages", [0, 20])
def test_a_plain_turn_is_one_round_trip_each_way(
    alice, marketplace, earlier_messages, django_assert_num_queries
):
    session = _session_with(alice, marketplace, earlier_messages)
    # One query (the role, the turn, the history and the goals), its own transaction: no BEGIN
    # or COMMIT of its own (Django counts those too), nothing left open.
    with django_assert_num_queries(1):
        turn = accept_turn(
            alice.pk, session, "helper", "Was heißt das?", uuid.uuid4(), None, alice.email
        )
    assert not connection.in_atomic_block and _transaction_status() == "IDLE"
    assert turn.created and turn.request and turn.calls_left is not None
    assert turn.message.content == "Was heißt das?"
    with django_assert_num_queries(1):  # the role and the reply
        stored = store_reply(alice.pk, session.pk, "helper", "So.", DONE, turn.main_count, 120)
    assert _transaction_status() == "IDLE"
    assert stored.message.content == "So." and not stored.completed

    messages = staff_get(Message, id=stored.message.id)
    assert messages.role == "helper"
    started, completed = (
        staff_get(Log, session_id=session.pk, event_type=event)
        for event in ("api_call_started", "api_call_completed")
    )
    assert started.metadata == {"chat": "helper", "provider": "offline"}
    assert completed.metadata["latency_ms"] == 120 and completed.metadata["input_tokens"] == 10


@chat_db
def test_without_the_learners_email_a_turn_is_taken_step_by_step(
    alice, marketplace, django_assert_num_queries
):
    session = _session_with(alice, marketplace, 0)
    # BEGIN, role, login, the throttles, message and claim, history, the scene as it is now,
    # goals, api_call_started, COMMIT
    with django_assert_num_queries(10):
        turn = accept_turn(alice.pk, session, "helper", "Was heißt das?", uuid.uuid4())
    assert turn.created and turn.request


@pytest.mark.parametrize("earlier_messages", [0, 20])
def test_a_turn_step_by_step_takes_a_fixed_number_of_queries(
    alice, marketplace, earlier_messages, django_assert_num_queries
):
    session = _session_with(alice, marketplace, earlier_messages)
    # Each block runs in a savepoint here (the test's transaction), which adds SAVEPOINT and
    # RELEASE plus a role restore to the statements a real turn sends.
    # role, login, the throttles, message and claim, history, the scene as it is now, goals,
    # api_call_started, whether the deck holds the line; at the scene's first turn also the
    # learner's due words (for the character to bring in)
    first_turn = earlier_messages == 0
    with django_assert_num_queries(9 + 3 + first_turn):
        turn = accept_turn(alice.pk, session, "main", "Hallo!", uuid.uuid4())
    # a reply that reaches a goal: role, the reply with its claim, api_call_completed, the
    # learner's message and the goals, the reached goal, whether the deck holds the reply
    reaching = ReplyDone(ended=False, usage={}, attempts=1, goals_reached=(1,))
    goal_ids = turn.request.goal_ids
    with django_assert_num_queries(3 + 3 + 4):
        stored = store_reply(
            alice.pk, session.pk, "main", "Guten Tag!", reaching, turn.main_count, 120, goal_ids
        )
    assert [state.reached for state in stored.goals][:1] == [True]


def test_prompt_paths_can_be_overridden_from_the_environment(tmp_path, monkeypatch):
    custom = tmp_path / "a1.md"
    custom.write_text("Speak very slowly.")
    monkeypatch.setenv("PROMPT_LEVELS_A1_PATH", str(custom))
    load_prompt.cache_clear()
    try:
        assert prompt_path("levels/A1") == custom
        assert load_prompt("levels/A1") == "Speak very slowly."
    finally:
        load_prompt.cache_clear()
    monkeypatch.delenv("PROMPT_LEVELS_A1_PATH")
    assert prompt_path("levels/A1").name == "A1.md" and "A1" in load_prompt("levels/A1")
