"""Ending a scene: steering from 15 messages, concluding by 25, completing at 30 or on the
model's end_scenario call; the learner then sees a completion screen."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from accounts.models import Profile
from chat.frames import AWAITS_THE_LAST_WORD
from chat.goals import GoalState
from chat.models import Message, ReachedGoal
from chat.prompting import CONCLUDE_AT, SOFT_CAP, STEERING, build_request
from lib.rls import acting_as_staff
from scenarios import lifecycle
from scenarios.models import Session
from tests.chat.conftest import Tab, chat_db, events, one_turn, session_row
from tests.conftest import add_message
from tests.support.fake_anthropic import PlannedResponse, ToolUse

pytestmark = chat_db

END = ToolUse(name="end_scenario", input={"reason": "The learner paid and said goodbye."})


@database_sync_to_async
def fill_main_chat(session, total: int):
    """Main-chat messages up to `total`, the opening line included, alternating speakers."""
    with acting_as_staff():
        so_far = Session.objects.get(pk=session.pk).message_count_main
    for index in range(so_far + 1, total + 1):
        role = "user" if index % 2 == 0 else "scenario"
        add_message(session, role, "main", f"Satz {index}")


def _notes(fake) -> str:
    return " ".join(block["text"] for block in fake.requests[-1].body["system"][1:])


@pytest.mark.parametrize(
    ("before", "note"),
    [
        (12, None),
        # The marketplace's goals are open: the character first gives the learner a way to them.
        (14, "natural opening for the open goals, then steer towards an ending"),
        (22, "natural opening for the open goals, then steer towards an ending"),
        # The learner's 24th: the reply, the 25th, closes (it was told from the 26th).
        (23, "bring the scene to its close"),
        # ...leaving the learner the last word ("Say goodbye" may be a goal).
        (24, "leave them the last word, and call it in your next reply"),
        (26, "bring the scene to its close"),
        (27, "this is your last reply"),
    ],
)
async def test_the_character_is_steered_by_message_count(
    alice, alice_session, fake_anthropic, before, note
):
    await fill_main_chat(alice_session, before)  # the learner's message is number before + 1
    await one_turn(alice, alice_session.pk, "Danke schön!")
    if note is None:
        assert _notes(fake_anthropic) == ""
    else:
        assert note in _notes(fake_anthropic).lower()


def _steering_at(scene, count: int, reached: set[int]) -> str:
    """The notes after the cached prompt for the learner's message number `count`, with the
    goals at `reached` positions reached."""
    said = [
        Message(role="user" if index % 2 == 0 else "scenario", chat_type="main", content="Ja.")
        for index in range(1, count + 1)
    ]
    with acting_as_staff():
        goals = list(scene.goals.order_by("position"))
    states = [GoalState(goal.position, goal, goal.position in reached) for goal in goals]
    request = build_request(scene, "main", said, level="A1", goals=states)
    return " ".join(block["text"] for block in request.system[1:])


@pytest.mark.parametrize("count", [SOFT_CAP, CONCLUDE_AT - 2])
def test_from_the_soft_cap_the_steering_minds_the_goals(marketplace, count):
    assert "natural opening for the open goals" in _steering_at(marketplace, count, {1})
    # Every goal reached: the stronger note, to end within a turn or two.
    every = _steering_at(marketplace, count, {1, 2, 3, 4, 5})
    assert every == STEERING["goals_done"]
    # A scene without goals is steered towards its ending only.
    marketplace.goals.all().delete()
    assert _steering_at(marketplace, count, set()) == STEERING["soft"]
    assert _steering_at(marketplace, SOFT_CAP - 1, set()) == ""


@pytest.mark.parametrize(("before", "completed"), [(23, False), (27, True)])
async def test_offline_the_goodbye_leaves_the_last_word_unless_it_is_the_last_reply(
    alice, alice_session, offline, before, completed
):
    """With goals open, the closing line by the scene's length leaves the learner an answer;
    the reply that is message 29 closes the scene all the same (no exchange fits after it)."""
    await fill_main_chat(alice_session, before)
    frame = await one_turn(alice, alice_session.pk, "Danke schön!")
    session = await session_row(alice_session.pk)
    assert session.is_completed == completed and session.message_count_main == before + 2
    assert ("Scene complete" in frame) == completed
    assert alice_session.scenario.offline_lines[-1] in frame
    # The bar says what the goodbye asks of the learner (it said "time to say goodbye" only).
    assert (AWAITS_THE_LAST_WORD in frame) == (not completed)


async def test_offline_a_short_script_s_goodbye_awaits_the_answer(alice, alice_session, offline):
    """A script that runs out before the scene's length: its closing line, with goals open,
    leaves the last word too, and the bar says so."""
    await set_script(alice_session.scenario, ["Hallo! Was darf es sein?", "Tschüss!"])
    first = await one_turn(alice, alice_session.pk, "Guten Tag, ich schaue mal.")
    assert "Was darf es sein?" in first and AWAITS_THE_LAST_WORD not in first
    goodbye = await one_turn(alice, alice_session.pk, "Ich hätte gern Tomaten.")
    assert "Tschüss!" in goodbye and AWAITS_THE_LAST_WORD in goodbye
    last = await one_turn(alice, alice_session.pk, "Tschüss!")
    assert "Scene complete" in last and AWAITS_THE_LAST_WORD not in last


@database_sync_to_async
def set_script(scenario, lines):
    with acting_as_staff():
        scenario.offline_lines = lines
        scenario.save(update_fields=["offline_lines"])


@pytest.mark.parametrize(("before", "awaits"), [(21, False), (23, True), (25, True)])
async def test_the_model_s_goodbye_awaits_the_answer(
    alice, alice_session, fake_anthropic, before, awaits
):
    """The reply told to close the scene (the 25th on) and not ending it leaves the learner
    the last word, and the bar says so; one that ends it does not."""
    await fill_main_chat(alice_session, before)
    fake_anthropic.enqueue(PlannedResponse(text="Auf Wiedersehen!"))
    frame = await one_turn(alice, alice_session.pk, "Danke schön!")
    assert (AWAITS_THE_LAST_WORD in frame) == awaits
    fake_anthropic.enqueue(PlannedResponse(text="Tschüss!", tool_use=END))
    last = await one_turn(alice, alice_session.pk, "Tschüss!")
    assert "Scene complete" in last and AWAITS_THE_LAST_WORD not in last


@pytest.mark.parametrize(
    ("latest", "awaits"),
    [("scenario", True), ("user", False)],
)
def test_the_chat_page_says_the_goodbye_awaits_the_answer(
    client, alice, alice_session, latest, awaits
):
    """Reloaded, the page's bar says it too: the character's goodbye is its newest line."""
    async_to_sync(fill_main_chat)(alice_session, 24)
    add_message(alice_session, latest, "main", "Auf Wiedersehen!")
    client.force_login(alice)
    page = client.get(f"/sessions/{alice_session.pk}/").content.decode()
    assert (AWAITS_THE_LAST_WORD in page) == awaits


@pytest.mark.parametrize(
    ("answer", "goodbye_reached"),
    [
        ("Danke, gleichfalls!", True),
        ("Danke, du auch!", True),  # was not counted (the recheck)
        ("Tschüss!", True),
        ("Was kostet das?", False),
        # Nor is a thanks or an okay: "Say goodbye" was ticked for them (a newcomer's walk).
        ("Danke!", False),
        ("Okay.", False),
    ],
)
async def test_offline_an_answer_to_the_goodbye_says_goodbye(
    alice, alice_session, offline, answer, goodbye_reached
):
    """ "Danke, Ihnen auch!", as the bakery's tip says to answer "Schönes Wochenende!", left
    "Say goodbye" open (a newcomer's recheck); a question, a thanks alone, are no goodbye."""
    await fill_main_chat(alice_session, 23)
    await one_turn(alice, alice_session.pk, "Danke schön!")  # the goodbye, as message 25
    frame = await one_turn(alice, alice_session.pk, answer)
    assert "Scene complete" in frame
    assert await said_goodbye(alice_session.pk) == goodbye_reached


@database_sync_to_async
def said_goodbye(session_id) -> bool:
    with acting_as_staff():
        return ReachedGoal.objects.filter(session_id=session_id, goal__text="Say goodbye").exists()


async def test_the_model_ends_the_scene_with_its_tool(alice, alice_session, fake_anthropic):
    await fill_main_chat(alice_session, 17)
    fake_anthropic.enqueue(PlannedResponse(text="Tschüss, bis bald!", tool_use=END))
    frame = await one_turn(alice, alice_session.pk, "Danke schön!")
    session = await session_row(alice_session.pk)
    assert session.is_completed and session.completed_at and session.duration_seconds is not None
    assert session.message_count_main == 19
    [(_, _, completed)] = await events("scenario_completed")
    assert completed["ended_by"] == "model"
    assert "2 conversations left this week" in frame and f"/history/{alice_session.pk}/" in frame
    # No goal reached: the scene is complete, not cheered ("Geschafft!", made it).
    assert "<h2>Scene complete</h2>" in frame and "Geschafft" not in frame
    # The goals not ticked are said (the scene closed with "Say goodbye" open, without a word
    # why: a newcomer's recheck).
    # Named (the count alone did not say which: the next recheck).
    assert (
        "come to its end with 4 goals not reached, “Order a kilo of tomatoes”, “Ask what the"
        " strawberries cost”, “Say that&#x27;s everything” and “Say goodbye”: they are there"
        " to try" in frame
    )


async def test_the_session_completes_at_thirty_whatever_the_model_does(
    alice, alice_session, fake_anthropic
):
    await fill_main_chat(alice_session, 27)  # the learner's turn is the 28th, the reply the 29th
    await one_turn(alice, alice_session.pk, "Danke schön!")
    assert "this is your last reply" in _notes(fake_anthropic).lower()
    assert not (await session_row(alice_session.pk)).is_completed

    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Tschüss!")  # the 30th message fills the scene: no reply comes
    frame = await tab.until('data-frame="turn-completed"')
    await tab.close()
    session = await session_row(alice_session.pk)
    assert session.message_count_main == 30 and session.is_completed
    assert fake_anthropic.request_count == 1
    assert "Scene complete · 30 messages" in frame
    # No reply judges the last word: the goals' patterns do. "Tschüss!" reached "Say goodbye",
    # which the checklist ticks, and the panel counts the goals left.
    assert "<h2>Geschafft! Scene complete 🎉</h2>" in frame
    assert 'class="goal goal-reached' in frame and "with 3 goals not reached" in frame


async def test_a_reply_that_makes_thirty_completes_the_session(
    alice, alice_session, fake_anthropic
):
    # Two learner messages in a row (a failed reply, then a new message): the reply is 30th.
    await fill_main_chat(alice_session, 28)
    await one_turn(alice, alice_session.pk, "Danke schön!")
    session = await session_row(alice_session.pk)
    assert session.message_count_main == 30 and session.is_completed


async def test_completion_counts_once_on_the_profile(alice, alice_session, fake_anthropic):
    fake_anthropic.enqueue(PlannedResponse(text="Auf Wiedersehen!", tool_use=END))
    await one_turn(alice, alice_session.pk, "Danke schön!")

    @database_sync_to_async
    def counts():
        with acting_as_staff():
            profile = Profile.objects.get(pk=alice.pk)
            return profile.completed_scenario_count, profile.current_week_completion_count

    assert await counts() == (1, 1)


async def test_the_weeks_last_scene_says_when_the_next_week_starts(
    alice, alice_session, fake_anthropic
):
    """The week's last scene said "You have 0 conversations left this week." and no more (the
    newcomer's walk)."""
    from channels.db import database_sync_to_async

    from tests.journey_helpers import set_week

    await database_sync_to_async(set_week)(alice, completed=2)
    await fill_main_chat(alice_session, 17)
    fake_anthropic.enqueue(PlannedResponse(text="Tschüss, bis bald!", tool_use=END))
    frame = await one_turn(alice, alice_session.pk, "Danke schön!")
    assert "0 conversations" not in frame
    # Dated, as the picker says it ("on Monday" read as today, on a Monday: a newcomer's walk).
    resets_at = await database_sync_to_async(lifecycle.week_ends)()
    when = f'datetime="{resets_at.isoformat()}">{resets_at:%A %-d %B, %H:%M} UTC</time>'
    assert f"this week's last conversation: a new week starts <time data-local-time {when}" in (
        frame
    )
