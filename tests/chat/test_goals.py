"""Goals: the character marks a goal reached (the reach_goal tool, through the real SDK) when
the learner's own message achieves it, offline a pattern does; every tab's checklist ticks;
the states ride in the conversation, so the system prompt stays cacheable; with every goal
reached the character steers to an ending."""

import re

from channels.db import database_sync_to_async

from chat.models import Message, ReachedGoal
from chat.prompting import STEERING
from lib.rls import acting_as_staff
from scenarios import lifecycle
from tests.chat.conftest import FINISHED, Tab, chat_db, settle
from tests.conftest import add_message
from tests.support.fake_anthropic import PlannedResponse, ToolUse

pytestmark = chat_db


def reach(*numbers, text="Gern, bitte schön.") -> PlannedResponse:
    calls = [ToolUse("reach_goal", {"goal": number}) for number in numbers]
    return PlannedResponse(text=text, tool_use=calls[0] if calls else None, tool_uses=calls[1:])


@database_sync_to_async
def kiosk_session(user, kiosk):
    session = lifecycle.start_session(user.pk, kiosk)
    add_message(session, "scenario", "main", kiosk.initial_message_main)
    add_message(session, "helper", "helper", kiosk.initial_message_helper)
    return session


@database_sync_to_async
def reached(session_id) -> list[tuple[int, str]]:
    """(goal position, the learner message that reached it)."""
    with acting_as_staff():
        rows = ReachedGoal.objects.filter(session_id=session_id).select_related("goal")
        texts = dict(Message.objects.filter(session_id=session_id).values_list("id", "content"))
        return sorted((row.goal.position, texts[row.message_id]) for row in rows)


def ticked(frame: str) -> int:
    return len(re.findall(r'class="goal goal-reached[" ]', frame))


async def test_a_goal_the_character_marks_ticks_in_every_tab(alice, kiosk, fake_anthropic):
    session = await kiosk_session(alice, kiosk)
    this, other = Tab(alice, session.pk), Tab(alice, session.pk)
    for tab in (this, other):
        await tab.connect()
        assert ticked(await tab.until('id="goals"')) == 0  # the sync draws the checklist
    fake_anthropic.enqueue(reach(1))
    await this.send(message="Guten Morgen!")
    for tab in (this, other):
        finished = await tab.until(FINISHED)
        assert 'id="goals" class="goals" aria-labelledby="goals-title" hx-swap-oob="true"' in (
            finished
        )
        assert ticked(finished) == 1
    await settle()
    assert await reached(session.pk) == [(1, "Guten Morgen!")]


async def test_goal_states_ride_in_the_conversation_and_the_system_prompt_stays(
    alice, kiosk, fake_anthropic
):
    session = await kiosk_session(alice, kiosk)
    tab = Tab(alice, session.pk)
    await tab.connect()
    fake_anthropic.enqueue(reach(1), PlannedResponse(text="Bitte sehr."))
    for message in ("Hallo!", "Eine Zeitung, bitte."):
        await tab.send(message=message)
        await tab.until(FINISHED)
    await tab.close()
    first, second = (request.body for request in fake_anthropic.requests)
    assert first["system"] == second["system"]  # the cached prefix does not move
    assert "1. Greet Herr Yilmaz" in first["system"][0]["text"]
    assert "Herr Yilmaz" in first["system"][0]["text"]
    note = second["messages"][-1]["content"][-1]["text"]
    assert "goals reached so far: 1." in note and "2. Buy a newspaper" in note
    assert "cache_control" not in second["messages"][-1]["content"][-1]


async def test_with_every_goal_reached_the_character_steers_to_an_ending(
    alice, kiosk, fake_anthropic
):
    session = await kiosk_session(alice, kiosk)
    tab = Tab(alice, session.pk)
    await tab.connect()
    fake_anthropic.enqueue(reach(1, 2, 3), PlannedResponse(text="Tschüss!"))
    await tab.send(message="Hallo, eine Zeitung bitte, tschüss!")
    assert ticked(await tab.until(FINISHED)) == 3
    await tab.send(message="Danke.")
    await tab.until(FINISHED)
    await tab.close()
    first, second = (request.body for request in fake_anthropic.requests)
    assert STEERING["goals_done"] not in str(first["system"])
    assert second["system"][-1]["text"] == STEERING["goals_done"]


async def test_numbers_the_scene_has_not_and_repeats_mark_nothing(alice, kiosk, fake_anthropic):
    session = await kiosk_session(alice, kiosk)
    tab = Tab(alice, session.pk)
    await tab.connect()
    odd = PlannedResponse(
        text="Hm?",
        tool_use=ToolUse("reach_goal", {"goal": 99}),
        tool_uses=[ToolUse("reach_goal", {"goal": "2"}), ToolUse("reach_goal", {})],
    )
    fake_anthropic.enqueue(odd, reach(1), reach(1))
    for message in ("Was?", "Hallo!", "Hallo nochmal!"):
        await tab.send(message=message)
        await tab.until(FINISHED)
    await tab.close()
    await settle()
    assert await reached(session.pk) == [(1, "Hallo!")]  # once, by the message that did it


async def test_the_helper_sees_the_goals_and_marks_none(alice, kiosk, fake_anthropic):
    session = await kiosk_session(alice, kiosk)
    tab = Tab(alice, session.pk)
    await tab.connect()
    fake_anthropic.enqueue(reach(1, text="Try “Guten Morgen!”"))
    await tab.send(chat="helper", message="How do I greet him?")
    await tab.until(FINISHED)
    await tab.close()
    await settle()
    [request] = fake_anthropic.requests
    assert "[ ] Greet Herr Yilmaz" in str(request.body["messages"][-1])
    assert "tools" not in request.body
    assert await reached(session.pk) == []


async def test_offline_goals_tick_by_their_patterns(alice, kiosk, offline):
    session = await kiosk_session(alice, kiosk)
    tab = Tab(alice, session.pk)
    await tab.connect()
    counts = []
    for message in ("Guten Morgen!", "Wie geht es Ihnen?", "Ich hätte gern eine Zeitung."):
        await tab.send(message=message)
        counts.append(ticked(await tab.until(FINISHED)))
    await tab.close()
    await settle()
    assert counts == [1, 0, 2]  # a reply that reaches nothing redraws nothing
    assert await reached(session.pk) == [(1, "Guten Morgen!"), (2, "Ich hätte gern eine Zeitung.")]


async def test_a_goal_deleted_mid_reply_does_not_shift_the_others(alice, kiosk, fake_anthropic):
    session = await kiosk_session(alice, kiosk)
    tab = Tab(alice, session.pk)
    await tab.connect()
    fake_anthropic.enqueue(
        PlannedResponse(
            text="Eine Zeitung, gern. Das macht zwei Euro fünfzig, bitte.",
            token_delay=0.02,
            tool_use=ToolUse("reach_goal", {"goal": 2}),  # 2. Buy a newspaper, as it was asked
        )
    )
    await tab.send(message="Eine Zeitung, bitte.")
    await tab.until(r'^\{"reply"')  # streaming: staff delete goal 1 now

    @database_sync_to_async
    def delete_the_first_goal():
        with acting_as_staff():
            kiosk.goals.get(position=1).delete()

    await delete_the_first_goal()
    await tab.until(FINISHED)
    await tab.close()
    await settle()
    assert await reached(session.pk) == [(2, "Eine Zeitung, bitte.")]  # not "Say goodbye"
