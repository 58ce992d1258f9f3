"""A chat turn costs a fixed number of queries, however long the session is."""

import uuid

import pytest

from chat.providers import ReplyDone
from chat.turns import accept_turn, store_reply
from scenarios.lifecycle import find_session
from scenarios.prompts import load_prompt, prompt_path
from tests.conftest import add_message, start_session

DONE = ReplyDone(ended=False, usage={"input_tokens": 10, "output_tokens": 5}, attempts=1)


@pytest.mark.parametrize("earlier_messages", [0, 20])
def test_a_turn_takes_a_fixed_number_of_queries(
    alice, marketplace, earlier_messages, django_assert_num_queries
):
    session = start_session(alice, marketplace)
    add_message(session, "scenario", "main", "Guten Morgen!")
    for index in range(earlier_messages):
        add_message(session, "user" if index % 2 else "scenario", "main", f"Satz {index}")
    session = find_session(alice.pk, session.pk)

    # Each block runs in a savepoint here (the test's transaction), which adds SAVEPOINT and
    # RELEASE plus a role restore to the statements a real turn sends.
    # role, login, the throttles, message and claim, history, goals, api_call_started; at
    # the scene's first turn also the learner's due words (for the character to bring in)
    first_turn = earlier_messages == 0
    with django_assert_num_queries(7 + 3 + first_turn):
        turn = accept_turn(alice.pk, session, "main", "Hallo!", uuid.uuid4())
    with django_assert_num_queries(3 + 3):  # role, the reply with its claim, api_call_completed
        store_reply(alice.pk, session.pk, "main", "Guten Tag!", DONE, turn.main_count, 120)


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
