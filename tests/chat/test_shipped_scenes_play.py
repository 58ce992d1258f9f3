"""Every shipped scene plays offline to its end: a learner who says what each goal asks for
sees every goal tick, the character says its goodbye, and the session completes."""

import importlib

import pytest
from channels.db import database_sync_to_async
from django.apps import apps

from chat.models import Message, ReachedGoal
from chat.prompting import CONCLUDE_AT
from lib.rls import acting_as_staff
from scenarios import lifecycle
from scenarios.models import Goal, Scenario, Session
from tests.chat.conftest import FINISHED, Tab, chat_db, session_row, settle, stored
from tests.conftest import add_message

pytestmark = chat_db

# What a learner might say for each goal, in order.
SAYS = {
    "marketplace": [
        "Ich hätte gern ein Kilo Tomaten, bitte.",
        "Was kosten die Erdbeeren?",
        "Nein danke, das ist alles.",
        "Auf Wiedersehen, schönes Wochenende!",
    ],
    "party": [
        "Hallo Lena, ich heiße Sam. Freut mich!",
        "Ja, gern, ein Wasser bitte.",
        "Ich komme aus Kanada.",
        "Ich spiele gern Fußball.",
        "Ich muss leider los. Tschüss!",
    ],
    "kebab": [
        "Einen Döner mit Hähnchen, bitte.",
        "Mit Knoblauchsoße, bitte.",
        "Zum Mitnehmen, bitte.",
        "Und einen Ayran, bitte.",
        "Danke, tschüss!",
    ],
    "bakery": [
        "Ich hätte gern vier Brötchen, bitte.",
        "Ein halbes Roggenbrot, bitte.",
        "Ein Stück Apfelkuchen, bitte.",
        "Was kostet ein Croissant?",
        "Danke, auf Wiedersehen!",
    ],
    "doctor_phone": [
        "Guten Morgen, ich brauche einen Termin.",
        "Ich habe seit zwei Tagen Halsschmerzen und Fieber.",
        "Ich bin am 3. Mai 1995 geboren.",
        "Ich bin gesetzlich versichert, bei der TK.",
        "Morgen um 9:15 Uhr passt gut.",
    ],
    "train_ticket": [
        "Ich möchte eine Fahrkarte nach Berlin, bitte.",
        "Hin und zurück, bitte.",
        "Muss ich umsteigen?",
        "Nein, ich habe keine BahnCard.",
        "Von welchem Gleis fährt der Zug ab?",
    ],
    "flat_viewing": [
        "Die Wohnung gefällt mir sehr gut!",
        "Wie hoch ist die Miete?",
        "Was ist in den Nebenkosten enthalten?",
        "Wie hoch ist die Kaution?",
        "Ab wann kann ich einziehen?",
    ],
    "buergeramt": [
        "Ich möchte mich anmelden.",
        "Hier ist mein Reisepass.",
        "Ich bin am 1. März eingezogen.",
        "Kostet die Anmeldung etwas?",
        "Bekomme ich eine Bestätigung?",
    ],
    "restaurant": [
        "Nein. Haben Sie einen Tisch für zwei Personen?",
        "Ein stilles Wasser und eine Apfelschorle, bitte.",
        "Ich nehme das Schnitzel.",
        "Die Rechnung, bitte!",
        "Zusammen, bitte.",
    ],
    "pharmacy": [
        "Ich habe Halsschmerzen und Schnupfen.",
        "Haben Sie etwas dagegen?",
        "Brauche ich dafür ein Rezept?",
        "Wie oft muss ich die Tabletten nehmen?",
        "Was kostet das zusammen?",
    ],
    "new_colleague": [
        "Hallo, ich bin Sam!",
        "Ich arbeite im Marketing.",
        "Wie lange arbeitest du schon hier?",
        "Ich lese gern und gehe gern schwimmen.",
        "Ja, gern, ich komme mit!",
    ],
}


@database_sync_to_async
def start(user, code):
    scene = Scenario.objects.get(code=code)
    session = lifecycle.start_session(user.pk, scene)
    add_message(session, "scenario", "main", scene.initial_message_main)
    add_message(session, "helper", "helper", scene.initial_message_helper)
    return session, scene.offline_lines, scene.goals.count()


@database_sync_to_async
def outcome(session_id):
    with acting_as_staff():
        completed = Session.objects.get(pk=session_id).is_completed
        return completed, ReachedGoal.objects.filter(session_id=session_id).count()


@database_sync_to_async
def played(session_id):
    """The main chat after its opening, as (learner message, goals it reached, reply) turns,
    and which goals each line of the script asks for (by line index)."""
    with acting_as_staff():
        session = Session.objects.select_related("scenario").get(pk=session_id)
        messages = list(Message.objects.filter(session_id=session_id, chat_type="main"))
        reached: dict[int, set[int]] = {}
        for goal in ReachedGoal.objects.filter(session_id=session_id).select_related("goal"):
            reached.setdefault(goal.message_id, set()).add(goal.goal.position)
        asks: dict[int, set[int]] = {}
        answers: dict[int, tuple[int, bool]] = {}  # goal → (line index, goes on after it)
        for goal in session.scenario.goals.all():
            for line in goal.offline_asked_in:
                asks.setdefault(line - 1, set()).add(goal.position)
            if goal.offline_answered_in:
                answers[goal.position] = (
                    goal.offline_answered_in - 1,
                    goal.offline_goes_on_after_answer,
                )
    messages.sort(key=lambda m: (m.sent_at, m.id))
    turns = [
        (learner.content, reached.get(learner.id, set()), reply.content)
        for learner, reply in zip(messages[1::2], messages[2::2], strict=True)
    ]
    return turns, asks, answers


async def say_each(user, code, says):
    """A new session of the scene `code` in which `user` says each of `says`, a reply after
    each."""
    session, script, _ = await start(user, code)
    tab = Tab(user, session.pk)
    await tab.connect()
    for message in says:
        await tab.send(message=message)
        await tab.until(FINISHED)
    await settle()
    await tab.close()
    return session, script


def lines_said(turns, script) -> list[list[int]]:
    """Each reply as the script's lines it is (1 for the first): one, or at the close an
    answer and the last line."""
    said = []
    for _, _, reply in turns:
        if reply in script:
            said.append([script.index(reply) + 1])
        else:
            answer = next(line for line in script[:-1] if reply == f"{line} {script[-1]}")
            said.append([script.index(answer) + 1, len(script)])
    return said


def assert_the_script_was_followed(turns, asks, answers, script):
    """No line is said twice. A goal reached is answered with its line if that is not said
    yet (of two, the one the script goes on after). The other lines come in the script's
    order from the last of them or the last answer the script goes on after, passing over
    only lines said already and lines that ask for goals reached by then. The scene closes
    with the script's last line."""
    said = lines_said(turns, script)
    flat = [index - 1 for lines in said for index in lines]
    assert len(flat) == len(set(flat)), said
    assert said[-1][-1] == len(script)
    reached: set[int] = set()
    before, earlier = -1, set()
    for (_, reached_now, _), lines in zip(turns, said, strict=True):
        reached |= reached_now
        at = lines[0] - 1
        due = [answers[goal] for goal in reached_now if goal in answers]
        due = [(line, on) for line, on in due if line not in earlier and line < len(script) - 1]
        if due:
            going_on = sorted(line for line, on in due if on)
            assert at == (going_on[-1] if going_on else min(line for line, _ in due)), lines
            if going_on:
                before = at
        elif at != len(script) - 1:  # the closing line may come early (length, last goal)
            assert at > before, lines
            passed = [line for line in range(before + 1, at) if line not in earlier]
            assert all(asks.get(line) and asks[line] <= reached for line in passed), lines
            before = at
        earlier.update(index - 1 for index in lines)


@pytest.mark.parametrize("code", SAYS)
async def test_every_shipped_scene_plays_offline_to_its_end(alice, offline, settings, code):
    """Every goal but the last, then small talk: the script, line by line but for lines that
    ask for what the learner has done, until the reply that is message 25 closes the scene
    with its last line (the whole script was played, to 29 messages, where the page says
    "about 15 to 25": a newcomer's walk). That goodbye leaves the learner the last word,
    which reaches the last goal ("Say goodbye" could be reached only before the goodbye: a
    newcomer's walk), and the character's last word ends the scene."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"  # a learner who types fast
    session, script, goal_count = await start(alice, code)
    tab = Tab(alice, session.pk)
    await tab.connect()
    says = iter([*SAYS[code][:-1], *["Hm."] * CONCLUDE_AT])
    while not (await stored(session.pk, "main"))[-1][1].endswith(script[-1]):
        await tab.send(message=next(says))
        assert "Scene complete" not in await tab.until(FINISHED)
    await tab.send(message=SAYS[code][-1])
    assert "Scene complete" in await tab.until(FINISHED)
    await settle()
    await tab.close()
    turns, asks, answers = await played(session.pk)
    *to_the_goodbye, (_, reached_last, last_word) = turns
    assert_the_script_was_followed(to_the_goodbye, asks, answers, script)
    assert reached_last == {goal_count} and last_word.endswith(script[-1].split()[-1])
    assert goal_count == len(SAYS[code])
    assert await outcome(session.pk) == (True, goal_count)
    # The script ran out, or the scene's length closed it; then the two last words.
    count = (await session_row(session.pk)).message_count_main
    assert count == 1 + 2 * len(turns) <= CONCLUDE_AT + 2
    assert count == CONCLUDE_AT + 2 or len(to_the_goodbye) < (CONCLUDE_AT - 1) // 2


# The lines each reply is (1 for the first) when the learner says SAYS: each goal is
# answered where the script has a line for it, and the last closes the scene with its goodbye.
EVERY_GOAL_REPLIES = {
    "marketplace": [[3], [4], [9], [12]],  # packed up, the price, the till, goodbye
    "party": [[1], [2], [4], [7], [12]],
    "kebab": [[1], [4], [2], [7], [12]],  # "Mit allem?" was not asked yet
    "bakery": [[1], [4], [7], [8], [12]],  # her prices (scenarios 0033), not the till
    "doctor_phone": [[1], [2], [3], [4], [9, 12]],
    "train_ticket": [[1], [3], [4], [6], [11, 12]],
    # "Würde Ihnen das passen?" is answered before she closes.
    "flat_viewing": [[1], [6], [7], [8], [9], [12]],
    "buergeramt": [[1], [3], [4], [10], [12]],
    "restaurant": [[1], [3], [4], [9], [12]],
    "pharmacy": [[1], [4], [5], [6], [10, 12]],
    "new_colleague": [[1], [2], [6], [8], [10, 12]],
}


@pytest.mark.parametrize("code", SAYS)
async def test_every_shipped_scene_ends_offline_once_every_goal_is_reached(
    alice, offline, settings, code
):
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session, script, goal_count = await start(alice, code)
    tab = Tab(alice, session.pk)
    await tab.connect()
    for message in SAYS[code]:
        await tab.send(message=message)
        finished = await tab.until(FINISHED)
    if "Scene complete" not in finished:  # the answer asked something back
        await tab.send(message="Ja, das passt gut.")
        finished = await tab.until(FINISHED)
    await settle()
    await tab.close()
    turns, asks, answers = await played(session.pk)
    assert_the_script_was_followed(turns, asks, answers, script)
    assert lines_said(turns, script) == EVERY_GOAL_REPLIES[code]
    reached = [{n} for n in range(1, goal_count + 1)]
    assert [reached for _, reached, _ in turns] == reached + [set()] * (len(turns) - goal_count)
    assert await outcome(session.pk) == (True, goal_count)
    assert "Scene complete" in finished and finished.count("goal goal-reached") in (0, goal_count)


def test_the_shipped_lines_that_ask_for_goals_are_marked_unless_staff_reworded_them():
    migration = importlib.import_module("scenarios.migrations.0015_offline_lines_ask_for_goals")
    with acting_as_staff():
        goals = Goal.objects.filter(scenario__code="marketplace")
        assert dict(goals.values_list("position", "offline_asked_in")) == {
            1: [2],
            2: [],
            3: [8],
            4: [],
        }
        marked = Goal.objects.exclude(offline_asked_in=[]).select_related("scenario")
        # And Tobias's lunch invitation (0027).
        assert len(marked) == sum(len(goals) for goals in migration.ASKED_IN.values()) + 1
        for goal in marked:
            assert all(line <= len(goal.scenario.offline_lines) for line in goal.offline_asked_in)
        scene = Scenario.objects.get(code="marketplace")
        scene.offline_lines[1] = "Wie viele Tomaten hätten Sie gern?"
        scene.save(update_fields=["offline_lines"])
        goals.update(offline_asked_in=[])
        migration.mark_the_asking_lines(apps, None)
        assert dict(goals.values_list("position", "offline_asked_in")) == {
            1: [],
            2: [],
            3: [8],
            4: [],
        }
        lunch = importlib.import_module(
            "scenarios.migrations.0027_a_yes_answers_the_lunch_invitation"
        )
        invitation = Goal.objects.filter(scenario__code="new_colleague", position=5)
        assert invitation.get().offline_asked_in == [lunch.LINE]
        scene = Scenario.objects.get(code="new_colleague")
        scene.offline_lines[lunch.LINE - 1] = "Gehen wir zusammen essen?"
        scene.save(update_fields=["offline_lines"])
        invitation.update(offline_asked_in=[])
        lunch.mark_the_invitation(apps, None)
        assert invitation.get().offline_asked_in == []


def test_the_shipped_answering_lines_are_marked_unless_staff_reworded_them():
    migration = importlib.import_module("scenarios.migrations.0029_offline_answer_lines")
    with acting_as_staff():
        goals = Goal.objects.filter(scenario__code="marketplace")
        fields = ("position", "offline_answered_in", "offline_goes_on_after_answer")
        assert list(goals.values_list(*fields)) == [
            (1, 3, True),
            (2, 4, False),
            (3, 9, True),
            (4, None, False),
        ]
        assert (
            Goal.objects.exclude(offline_answered_in=None).count()
            == sum(len(goals) for goals in migration.ANSWERED_IN.values()) + 1
        )  # the baker's cut (scenarios 0031)
        scene = Scenario.objects.get(code="marketplace")
        scene.offline_lines[3] = "Möchten Sie auch Erdbeeren?"
        scene.save(update_fields=["offline_lines"])
        goals.update(offline_answered_in=None, offline_goes_on_after_answer=False)
        migration.mark_the_answering_lines(apps, None)
        assert list(goals.values_list(*fields)) == [
            (1, 3, True),
            (2, None, False),
            (3, 9, True),
            (4, None, False),
        ]


@pytest.mark.parametrize(
    ("code", "says", "reached"),
    [
        # "Ja, gerne!" to the coffee reaches nothing; to the lunch invitation, its goal.
        (
            "new_colleague",
            ["Hallo, ich bin Sam!", "Ja.", "Ja, gerne!", *["Hm."] * 6, "Ja, gerne!"],
            [{1}, set(), set(), *[set()] * 6, {5}],
        ),
        # A question back, or "na ja" (well…), is no yes (the attacker's recheck).
        *(
            (
                "new_colleague",
                ["Hallo, ich bin Sam!", "Ja.", "Ja, gerne!", *["Hm."] * 6, doubt],
                [{1}, set(), set(), *[set()] * 6, set()],
            )
            for doubt in ("Sicher?", "Na ja.")
        ),
        # A yes to "Haben Sie eine BahnCard?" says whether one has one.
        (
            "train_ticket",
            ["Nach Berlin, bitte.", "Morgen früh.", "Einfach.", "Gut.", "Okay.", "Ja, klar."],
            [{1}, set(), {2}, set(), set(), {4}],
        ),
        # To "Brauchen Sie auch ein Brot?", it buys none yet: the next line asks which.
        ("bakery", ["Vier Brötchen, bitte.", "Normale, bitte.", "Ja."], [{1}, set(), set()]),
    ],
)
async def test_a_bare_yes_answers_the_question_the_character_asked_for_a_goal(
    alice, offline, settings, code, says, reached
):
    """Offline, "Ja, gerne!" to Tobias's lunch invitation reached no goal (a newcomer's walk):
    a yes reaches the goal of a line that asks for it with a yes-or-no question."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session, script = await say_each(alice, code, says)
    turns, asks, _ = await played(session.pk)
    assert [goals for _, goals, _ in turns] == reached
    assert asks.get(script.index(turns[-2][2]))  # the last yes answered a line that asks


@pytest.mark.parametrize(
    ("code", "says", "reached"),
    [
        # "Nein." to "Haben Sie eine BahnCard?" says whether one has one, as "Ja." does.
        (
            "train_ticket",
            ["Nach Berlin, bitte.", "Morgen früh.", "Einfach.", "Gut.", "Okay.", "Nein."],
            [{1}, set(), {2}, set(), set(), {4}],
        ),
        # "Nein, danke." to the lunch invitation replies to it; to the coffee, to nothing.
        (
            "new_colleague",
            ["Hallo, ich bin Sam!", "Nein, danke.", "Ja.", *["Hm."] * 6, "Nein, danke."],
            [{1}, set(), set(), *[set()] * 6, {5}],
        ),
        # "Nein, danke" to the baker's bread buys none.
        (
            "bakery",
            ["Vier Brötchen, bitte.", "Normale, bitte.", "Nein, danke."],
            [{1}, set(), set()],
        ),
    ],
)
async def test_a_bare_no_answers_a_question_whose_goal_a_no_reaches(
    alice, offline, settings, code, says, reached
):
    """ "Nein." to "Haben Sie eine BahnCard?" reached nothing (the last note's left item): a no
    reaches the goal a yes would, where the goal's pattern takes a no ("ich habe keine")."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session, _ = await say_each(alice, code, says)
    turns, _, _ = await played(session.pk)
    assert [goals for _, goals, _ in turns] == reached


async def test_a_question_asked_again_is_answered_again(alice, offline, settings):
    """Once the prices were asked, "Was kostet der Apfelkuchen?" went on with the script, no
    price said (a newcomer's recheck); and asking it bought the cake (scenarios 0035)."""
    from chat.providers.offline import AS_SAID

    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    says = ["Vier Brötchen, bitte.", "Was kostet das Brot?", "Und was kostet der Apfelkuchen?"]
    session, script = await say_each(alice, "bakery", says)
    turns, _, _ = await played(session.pk)
    assert [goals for _, goals, _ in turns] == [{1}, {4}, set()]
    prices = script[7]
    assert [reply for _, _, reply in turns][1:] == [prices, f"{AS_SAID} {prices}"]


async def test_an_answer_just_said_is_not_said_again_to_the_learners_reply(
    alice, offline, settings
):
    """ "Ich möchte zwei Brötchen, bitte." to the baker's question which rolls (her answer to
    the rolls, said in the script's order) was told "Wie gesagt:" and the question again (the
    attacker's recheck)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session, script = await say_each(
        alice, "bakery", ["Guten Morgen, ich schaue mal.", "Zwei Brötchen, bitte."]
    )
    turns, _, _ = await played(session.pk)
    assert [goals for _, goals, _ in turns] == [set(), {1}]
    assert lines_said(turns, script) == [[1], [2]]


def test_the_bakers_cut_answers_the_bread_unless_staff_reworded_it():
    migration = importlib.import_module("scenarios.migrations.0031_the_bakers_bread_answered")
    with acting_as_staff():
        bread = Goal.objects.filter(scenario__code="bakery", position=2)
        assert bread.get().offline_answered_in == 4
        bread.update(offline_answered_in=None)
        scene = Scenario.objects.get(code="bakery")
        scene.offline_lines[3] = "Soll ich es schneiden?"
        scene.save(update_fields=["offline_lines"])
        migration.mark_the_cut(apps, None)
        assert bread.get().offline_answered_in is None


@pytest.mark.parametrize(
    ("code", "says", "replies"),
    [
        # "Nein, danke" to "Brauchen Sie auch ein Brot?": not which breads, nor the cut of one
        # not bought, but "Darf es sonst noch etwas sein?"; and a bread asked for later is cut.
        (
            "bakery",
            ["Vier Brötchen, bitte.", "Normale, bitte.", "Nein, danke.", "Doch, ein Brot."],
            [1, 2, 5, 4],
        ),
        ("bakery", ["Vier Brötchen, bitte.", "Normale, bitte.", "Nee, lieber nicht!"], [1, 2, 5]),
        # A question back is no no; nor is a no to an either-or question a no to either.
        ("bakery", ["Vier Brötchen, bitte.", "Normale, bitte.", "Nein?"], [1, 2, 3]),
        (
            "kebab",
            ["Einen Döner, bitte.", "Ja.", "Knoblauch.", "Nein, danke.", "Nein.", "Nein, danke."],
            # No cheese: the till question; "Nein" to it: the drinks; no drink: not "Kommt
            # sofort!", which answers one, but the wait.
            [1, 2, 4, 5, 6, 8],
        ),
    ],
)
async def test_a_bare_no_passes_over_what_it_turned_down(
    alice, offline, settings, code, says, replies
):
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session, script = await say_each(alice, code, says)
    turns, _, _ = await played(session.pk)
    assert lines_said(turns, script) == [[line] for line in replies]
