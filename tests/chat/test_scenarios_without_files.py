"""A scenario staff add in the admin has no prompt or offline script of its own: it still plays
(a generic character and offline lines), and a turn that fails for any reason is logged and
shown to the learner, never a dropped socket."""

import pytest

from chat import turns
from scenarios import lifecycle
from scenarios.models import Scenario
from tests.chat.conftest import FINISHED, Tab, chat_db, events, settle, stored

pytestmark = chat_db


@pytest.fixture
def bakery(db):
    return Scenario.objects.create(
        code="bakery",
        title="Bakery",
        emoji="🥐",
        initial_message_main="Guten Morgen! Was darf es sein?",
        initial_message_helper="You're at a bakery. Ask me anything.",
    )


@pytest.fixture
def bakery_session(alice, bakery):
    return lifecycle.start_session(alice.pk, bakery)


@pytest.mark.parametrize("partner", ["offline", "fake_anthropic"])
async def test_a_scenario_without_files_answers_in_both_chats(
    request, alice, bakery_session, partner
):
    fake = request.getfixturevalue(partner)
    tab = Tab(alice, bakery_session.pk)
    await tab.connect()
    for chat in ("main", "helper"):
        await tab.send(chat=chat, message="Zwei Brötchen, bitte.")
        await tab.until(FINISHED)
    await settle()
    await tab.close()
    assert [role for role, _ in await stored(bakery_session.pk, "main")][-1] == "scenario"
    assert [role for role, _ in await stored(bakery_session.pk, "helper")][-1] == "helper"
    if fake:
        system = fake.requests[0].body["system"][0]["text"]
        assert "Bakery" in system and "Guten Morgen! Was darf es sein?" in system


async def test_any_failure_of_a_turn_is_logged_and_shown(
    alice, alice_session, fake_anthropic, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr(turns.prompting, "build_request", broken)
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hallo")
    notice = await tab.until('data-frame="notice"')
    assert "Something went wrong on our side" in notice
    [(_, level, metadata)] = await events("unknown_error")
    assert level == "error"
    assert metadata == {"chat": "main", "where": "chat_turn", "error": "RuntimeError"}
    monkeypatch.undo()
    await tab.send(message="Hallo")  # the socket is still open, and the turn works now
    await tab.until(FINISHED)
    await settle()
    await tab.close()
