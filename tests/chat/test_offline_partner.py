"""Without an API key the offline partner plays the scene, streamed the same way."""

import pytest
from channels.db import database_sync_to_async

from chat.prompting import CONCLUDE_AT
from chat.providers.offline import AS_SAID, ASK_AGAIN, CANNOT_READ, NO_ENGLISH
from scenarios.models import Scenario
from tests.chat.conftest import FINISHED, Tab, chat_db, events, session_row, settle, stored
from tests.conftest import add_message

pytestmark = chat_db


@pytest.mark.parametrize("staff_lines", [0, 3])
async def test_the_offline_partner_plays_its_script_until_the_scenes_length_closes_it(
    alice, alice_session, offline, settings, staff_lines
):
    """A shipped script plays whole; one staff made longer is closed with its last line by
    the reply that would be message 25, as the model is told to close there. With goals still
    open, the learner answers that goodbye, and the character's last word ends the scene."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"  # a scene in a second
    shipped = alice_session.scenario.offline_lines
    lines = [*shipped[:-1], *(f"Noch etwas, Nummer {n}?" for n in range(staff_lines)), shipped[-1]]
    await database_sync_to_async(Scenario.objects.filter(pk=alice_session.scenario_id).update)(
        offline_lines=lines
    )
    turns = (CONCLUDE_AT - 1) // 2  # the reply that is message 25 closes the scene
    assert len(shipped) == turns
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    for turn in range(turns):
        await tab.send(message=f"Antwort {turn}")
        await tab.until(FINISHED)
        if turn == 0:  # a question to the helper along the way
            await tab.send(chat="helper", message="What does 'Ofen' mean?")
            await tab.until(FINISHED)
    await settle()
    assert not (await session_row(alice_session.pk)).is_completed  # the learner's word is left
    await tab.send(message="Tschüss!")
    await tab.until(FINISHED)
    await settle()
    await tab.close()

    main = await stored(alice_session.pk, "main")
    assert [content for role, content in main if role == "scenario"][1:] == [
        *lines[: turns - 1],
        lines[-1],
        "Bis nächsten Samstag!",  # the closing line's last sentence
    ]
    assert ("user", "Tschüss!") in main
    # The tip on tasting, for the seller's "Möchten Sie mal eine probieren?".
    tip = alice_session.scenario.offline_tips[6]
    assert tip.startswith("Want to taste first?")
    assert (await stored(alice_session.pk, "helper"))[-1] == (
        "helper",
        f"{CANNOT_READ.format(what='your question')} {tip}",
    )
    session = await session_row(alice_session.pk)
    assert session.is_completed and session.message_count_main == CONCLUDE_AT + 2
    assert await reached_goals(alice_session) == [4]  # "Say goodbye"


async def test_the_offline_character_closes_the_scene_once_every_goal_is_reached(
    alice, alice_session, offline, settings
):
    """All goals reached with a goodbye, the character played on through its script, and the
    learner had to write once more (a newcomer's walk)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    # The marketplace's four goals, one a message, after one that reaches none.
    said = ["Guten Tag.", "Ein Kilo Tomaten, bitte.", "Was kosten die Erdbeeren?", "Das ist alles."]
    for text in said:
        await tab.send(message=text)
        finished = await tab.until(FINISHED)
        if text.startswith("Ein Kilo"):  # said to screen readers with the reply
            assert "Goal reached: Order a kilo of tomatoes." in finished
            assert "1 of 4 reached" in finished
    assert not (await session_row(alice_session.pk)).is_completed
    await tab.send(message="Tschüss!")
    await tab.until(FINISHED)
    await settle()
    await tab.close()
    main = await stored(alice_session.pk, "main")
    assert main[-2:] == [("user", "Tschüss!"), ("scenario", lines[-1])]
    # The greeting greeted back; each goal answered with its line: the tomatoes packed up
    # (the line asking how many passed over), the strawberries' price, and "das ist alles"
    # leads to the till.
    assert [content for role, content in main if role == "scenario"][1:-1] == [
        "Guten Morgen! Was darf es sein?",  # the greeting of the character's opening
        lines[2],
        lines[3],
        lines[8],
    ]
    assert (await session_row(alice_session.pk)).is_completed
    # The event log says the script closed it, not the model (the last note's left item).
    [(_, _, completed)] = await events("scenario_completed")
    assert completed["ended_by"] == "script"


async def test_the_offline_character_does_not_ask_for_what_the_learner_has_done(
    alice, alice_session, offline, settings
):
    """Its lines that ask for a goal are passed over once the goal is reached, by an earlier
    message or by the one answered (it asked for a kilo of tomatoes just ordered, and whether
    that was all after "das ist alles": the last note's left item); a line the learner
    answers is not taken back. Here the goals have no line that answers them."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    await database_sync_to_async(alice_session.scenario.goals.update)(offline_answered_in=None)
    lines = alice_session.scenario.offline_lines
    assert lines[1].endswith("ein Kilo oder lieber 500 Gramm?")
    assert lines[7].endswith("oder ist das dann alles?")
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    said = [
        "Guten Tag, ein Kilo Tomaten bitte, und das ist dann alles.",  # goals 1 and 3
        "Gut.",
        *(["Hm."] * 4),
    ]
    for text in said:
        await tab.send(message=text)
        await tab.until(FINISHED)
    await settle()
    await tab.close()
    replies = [
        content
        for role, content in (await stored(alice_session.pk, "main"))[1:]
        if role == "scenario"
    ]
    assert replies == [lines[0], lines[2], lines[3], lines[4], lines[5], lines[6]]
    # On: past the line asking whether that is all, once.
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hm.")
    await tab.until(FINISHED)
    await settle()
    await tab.close()
    assert (await stored(alice_session.pk, "main"))[-1] == ("scenario", lines[8])


async def test_a_line_that_asks_is_said_when_the_goal_is_open(
    alice, alice_session, offline, settings
):
    """The learner who answers the line asking for a goal reaches it; the line stays said and
    the next follows (not one more passed over for it)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    said = [
        "Hallo, ich schaue nur.",
        "Tomaten, bitte.",
        "Ein Kilo, bitte. Ein Kilo Tomaten.",
        "Ja.",
    ]
    for text in said:
        await tab.send(message=text)
        await tab.until(FINISHED)
    await settle()
    await tab.close()
    replies = [
        content
        for role, content in (await stored(alice_session.pk, "main"))[1:]
        if role == "scenario"
    ]
    assert replies == lines[:4]


async def test_the_offline_partners_replies_are_logged_as_its_own(alice, alice_session, offline):
    """They were logged as the model's calls, latency and all (a newcomer's walk)."""
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    for chat in ("main", "helper"):
        await tab.send(chat=chat, message="Hallo!")
        await tab.until(FINISHED)
    await settle()
    await tab.close()
    calls = [e for e in await events() if e[0].startswith("api_call_")]
    assert len(calls) == 4 and {e[2]["provider"] for e in calls} == {"offline"}


async def test_a_goal_in_a_message_left_unanswered_is_reached_with_the_next(
    alice, alice_session, offline, settings
):
    """A reply cut by a restart left "ein Kilo Tomaten" unanswered; the next message reached
    no goal, and the character asked how many tomatoes (the attacker's recheck)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    await database_sync_to_async(add_message)(
        alice_session, "user", "main", "Ich möchte ein Kilo Tomaten."
    )
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hallo? Ist alles okay?")
    finished = await tab.until(FINISHED)
    await settle()
    await tab.close()
    assert "Goal reached: Order a kilo of tomatoes." in finished
    assert (await stored(alice_session.pk, "main"))[-1] == ("scenario", lines[2])  # packed up


async def replies_to(alice, session, said: list[str]) -> list[str]:
    tab = Tab(alice, session.pk)
    await tab.connect()
    for text in said:
        await tab.send(message=text)
        await tab.until(FINISHED)
    await settle()
    await tab.close()
    main = await stored(session.pk, "main")
    return [content for role, content in main[1:] if role == "scenario"]


async def test_a_goal_reached_out_of_order_is_answered_and_the_script_goes_on_where_it_was(
    alice, alice_session, offline, settings
):
    """Asked the strawberries' price first, the seller packed up what was never ordered (the
    last note's left item): she says their price, then goes on with her first line."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    assert "Eine Schale kostet vier Euro." in lines[3]
    said = ["Was kosten die Erdbeeren?", "Hm.", "Hm.", "Ein Kilo, bitte.", "Hm."]
    assert await replies_to(alice, alice_session, said) == [
        lines[3],
        lines[0],
        lines[1],
        lines[2],  # "Ein Kilo" names no tomatoes, and reaches no goal: the next line
        lines[4],  # the price, said, is not said again
    ]


async def test_an_answer_the_script_goes_on_after_leaves_out_the_lines_before_it(
    alice, alice_session, offline, settings
):
    """After "das ist alles" the seller went on selling potatoes (the last note's left item):
    she adds it up, and goes on from there. Said with an order, the till wins."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    assert lines[8].startswith("Gut, dann rechne ich mal zusammen")
    said = ["Ein Kilo Tomaten, bitte.", "Nein danke, das ist alles.", "Hier, bitte."]
    assert await replies_to(alice, alice_session, said) == [lines[2], lines[8], lines[9]]


async def test_an_order_and_that_is_all_in_one_message_go_to_the_till(
    alice, alice_session, offline, settings
):
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    said = ["Ein Kilo Tomaten, und das ist alles.", "Hier, bitte."]
    packed = lines[2].removesuffix(" Darf es sonst noch etwas sein?")  # not asked: all said
    assert await replies_to(alice, alice_session, said) == [f"{packed} {lines[8]}", lines[9]]


async def test_the_last_goal_reached_is_answered_before_the_scene_closes(
    alice, alice_session, offline, settings
):
    """The strawberries' price asked last: she closed with her goodbye, the price never said.
    She says it, and as it asks something back ("Wie wäre es damit?"), closes after the
    learner's answer (an answer that asks nothing closes with the goodbye in one reply: the
    shipped scenes' play)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    # "Say goodbye" reached by a word that greets too, and takes no leave ("Tschüss!" would
    # end the scene).
    said = ["Ein Kilo Tomaten, und das ist alles.", "Servus!", "Was kosten die Erdbeeren?"]
    assert (await replies_to(alice, alice_session, said))[-1] == lines[3]
    assert not (await session_row(alice_session.pk)).is_completed
    assert (await replies_to(alice, alice_session, ["Nein danke."]))[-1] == lines[-1]
    assert (await session_row(alice_session.pk)).is_completed


async def test_a_mistyped_answer_to_a_question_asking_for_a_goal_is_asked_again_once(
    alice, offline, settings
):
    """ "zum mitnemen bitte" reached no goal and the character went on to the drinks, the goal
    left open for good (a newcomer's walk): it asks again, once; a right answer reaches the
    goal, a second miss goes on."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session = await start_scene(alice, "kebab")
    lines = session.scenario.offline_lines
    question = "Zum Hieressen oder zum Mitnehmen?"
    assert lines[4].endswith(question)
    said = ["Einen Döner, bitte.", "Im Brot.", "Ja.", "Mit Knoblauchsoße.", "Nein, danke."]
    assert (await replies_to(alice, session, said))[-1] == lines[4]
    again = await replies_to(alice, session, ["zum mitnemen bitte", "Zum Mitnehmen, bitte."])
    assert again[-2:] == [f"{ASK_AGAIN} {question}", lines[5]]
    assert await reached_goals(session) == [1, 2, 3]

    other = await start_scene(alice, "kebab", replacing=session)
    await replies_to(alice, other, said)
    missed = await replies_to(alice, other, ["zum mitnemen bitte", "zum mitnemen!"])
    assert missed[-2:] == [f"{ASK_AGAIN} {question}", lines[5]]  # on: not asked a third time


async def test_a_message_in_english_is_told_to_be_in_german(
    alice, alice_session, offline, settings
):
    """It was answered as if understood (a newcomer's walk)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    replies = await replies_to(
        alice, alice_session, ["Ich schaue nur.", "hallo, I want to send a package", "Ja, gerne."]
    )
    question = "Möchten Sie mal eine probieren?"
    assert lines[0].endswith(question)
    assert replies == [lines[0], f"{NO_ENGLISH} {question}", lines[1]]


async def test_a_message_in_english_reaches_no_goal(alice, offline, settings):
    """ "I want a Döner, please" ticked the order and the character went on as if it had been
    said in German (the last note's left item): the goals are for saying it in German."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session = await start_scene(alice, "kebab")
    replies = await replies_to(alice, session, ["I want a Döner, please"])
    assert replies == [NO_ENGLISH]
    assert await reached_goals(session) == []
    replies = await replies_to(alice, session, ["Einen Döner mit Knoblauch, please."])
    assert not replies[-1].startswith(NO_ENGLISH)  # one English word is German still
    assert await reached_goals(session) == [1, 2]
    # A sentence in German among others in English reaches its goal (a newcomer's recheck:
    # it was told to say it in German), the English one nothing.
    replies = await replies_to(alice, session, ["Zum Mitnehmen. And a Cola to go, please."])
    assert not replies[-1].startswith(NO_ENGLISH)
    assert await reached_goals(session) == [1, 2, 3]


@database_sync_to_async
def start_scene(user, code, replacing=None):
    from scenarios import lifecycle

    scene = Scenario.objects.get(code=code)
    session = lifecycle.start_session(user.pk, scene, replacing=replacing.pk if replacing else None)
    add_message(session, "scenario", "main", scene.initial_message_main)
    session.scenario = scene
    return session


@database_sync_to_async
def reached_goals(session) -> list[int]:
    from chat.models import ReachedGoal
    from lib.rls import acting_as_staff

    with acting_as_staff():
        found = ReachedGoal.objects.filter(session_id=session.pk).select_related("goal")
        return sorted(reached.goal.position for reached in found)


@pytest.mark.parametrize(
    ("code", "line", "tip"),
    [
        ("kebab", "Geht klar. Zum Hieressen oder zum Mitnehmen?", 4),  # it quotes the question
        ("marketplace", "Danke schön! Hier ist Ihr Wechselgeld.", 7),  # its own long word
        ("kebab", "Okay! Einen Moment, bitte – heute ist wirklich viel los.", None),  # in turn
    ],
)
async def test_the_offline_helpers_tip_is_the_one_for_the_characters_last_line(
    alice, offline, settings, code, line, tip
):
    """Tips came in turn, about a step long done: asked what to say next while Murat asked
    "Zum Hieressen oder zum Mitnehmen?", the helper told of sauces (a newcomer's walk)."""
    session = await start_scene(alice, code)
    await database_sync_to_async(add_message)(session, "scenario", "main", line)
    tab = Tab(alice, session.pk)
    await tab.connect()
    await tab.send(chat="helper", message="what should I say next?")
    await tab.until(FINISHED)
    await settle()
    await tab.close()
    tips = session.scenario.offline_tips
    expected = tips[tip if tip is not None else 0]  # in turn: the first question, the first
    assert (await stored(session.pk, "helper"))[-1] == (
        "helper",
        f"{CANNOT_READ.format(what='your question')} {expected}",
    )


async def test_every_goal_reached_in_one_message_is_answered(alice, offline, settings):
    """Rent, bills, deposit and moving in asked at once: only the rent was answered, the
    scene closed, and the rest never came (a newcomer's recheck). Each answer comes, in the
    script's order, the questions they end with dropped but the last's, which the learner
    answers before the goodbye."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session = await start_scene(alice, "flat_viewing")
    lines = session.scenario.offline_lines
    asked = (
        "Die Wohnung gefällt mir. Wie hoch sind die Miete, die Nebenkosten und die Kaution, "
        "und ab wann ist sie frei?"
    )
    [reply] = await replies_to(alice, session, [asked])
    deposit = lines[7].removesuffix(" Was möchten Sie noch wissen?")
    assert reply == f"{lines[5]} {lines[6]} {deposit} {lines[8]}"
    assert reply.endswith("Würde Ihnen das passen?")
    assert not (await session_row(session.pk)).is_completed
    replies = await replies_to(alice, session, ["Ja, das passt gut."])
    assert replies[-1] == lines[-1]
    assert (await session_row(session.pk)).is_completed


@pytest.mark.parametrize(
    ("said", "question", "mistyped"),
    [
        ("zum mitnemen bitte", "Zum Hieressen oder zum Mitnehmen?", True),
        ("Hieresen, bitte.", "Zum Hieressen oder zum Mitnehmen?", True),
        # Other words, not typos (a newcomer's recheck): "Wie bitte?" to right German.
        ("Zur Mitnahme, bitte.", "Zum Hieressen oder zum Mitnehmen?", False),
        ("Ich fahre nur hin.", "Brauchen Sie eine einfache Fahrt oder hin und zurück?", False),
        ("Ich möchte ein Kilo.", "Möchten Sie mal eine probieren?", False),
    ],
)
def test_a_word_is_taken_for_a_typo_of_the_questions_only_when_it_is_one(said, question, mistyped):
    from chat.providers.offline import _mistypes_a_word_of

    assert _mistypes_a_word_of(said, question) is mistyped


async def test_a_goal_whose_answer_was_said_unasked_is_answered_again(alice, offline, settings):
    """The pharmacist said "Beides ist rezeptfrei" in her turn; asked then whether it needs a
    prescription, she went on with how often to take the tablets (a newcomer's recheck)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session = await start_scene(alice, "pharmacy")
    lines = session.scenario.offline_lines
    said = ["Ich habe Halsschmerzen.", "Seit gestern.", "Nein.", "Nein, keine.", "Danke."]
    replies = await replies_to(alice, session, said)
    assert replies[-1] == lines[4]  # "Beides ist rezeptfrei, …", unasked
    replies = await replies_to(alice, session, ["Brauche ich dafür ein Rezept?", "Gut."])
    assert replies[-2:] == [f"{AS_SAID} {lines[4]}", lines[5]]


async def test_that_is_all_with_nothing_bought_does_not_go_to_the_till(
    alice, alice_session, offline, settings
):
    """ "Das ist alles, danke." first: 11,20 Euro for nothing (a newcomer's recheck)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    replies = await replies_to(alice, alice_session, ["Das ist alles, danke."])
    assert replies == [lines[0]]


@pytest.mark.parametrize(
    ("closing", "last_word"),
    [
        (
            "Vielen Dank für Ihren Besuch! Einen schönen Abend noch – tschüss und bis zum "
            "nächsten Mal!",
            "Tschüss und bis zum nächsten Mal!",
        ),
        ("Guten Appetit und ein schönes Wochenende! Auf Wiedersehen!", "Auf Wiedersehen!"),
        # One sentence: not said again whole, its goodbye after the comma (a newcomer's walk).
        ("Schönen Tag noch, tschüss!", "Tschüss!"),
        ("Auf Wiedersehen!", "Auf Wiedersehen!"),
        # No goodbye after the dash: the sentence whole.
        (
            "Schön, dich kennenzulernen! Bis später – und einen guten Start bei uns!",
            "Bis später – und einen guten Start bei uns!",
        ),
    ],
)
def test_the_last_word_is_the_closing_lines_goodbye(closing, last_word):
    """The kebab's last word said its goodbye again almost whole (a newcomer's recheck)."""
    from chat.providers.offline import _farewell

    assert _farewell(closing) == last_word


@pytest.mark.parametrize(
    ("said", "ends"),
    [
        ("Tschüss!", True),
        ("Ein Kilo Tomaten, bitte. Auf Wiedersehen!", True),
        ("Danke, tschuess und mach's gut!", True),
        ("Ich muss jetzt leider los.", True),  # (no goodbye said: the goal stays open)
        ("Bis dann, Frau Schmidt!", True),
        ("Was heißt tschüss?", False),  # asked about, not said
        ("Ich brauche die Tomaten bis morgen.", False),  # "bis morgen" is no goodbye here
        ("Bye!", False),  # English: told to say it in German
        # Sentences about a goodbye, a question mark or not, ended scenes (the recheck).
        ("Was heißt tschüss", False),
        ("Tschüss ist ein schönes Wort.", False),
        ("Ich sage noch nicht tschüss.", False),
        ("Ich hole die Tomaten bis später ab.", False),
        ("Tschüss! Oder sagt man Auf Wiedersehen?", False),
    ],
)
async def test_a_learners_early_goodbye_closes_the_scene(
    alice, alice_session, offline, settings, said, ends
):
    """Offline, an early "Auf Wiedersehen!" ticked "Say goodbye", and the seller carried on
    with her script (the last note's left item): she says her goodbye, after answering what
    the message reached, and the scene ends (as the model is told to close politely)."""
    lines = alice_session.scenario.offline_lines
    replies = await replies_to(alice, alice_session, [said])
    session = await session_row(alice_session.pk)
    assert session.is_completed == ends
    if ends:
        assert (4 in await reached_goals(alice_session)) == ("los" not in said)  # "Say goodbye"
        assert replies[-1].endswith("Bis nächsten Samstag!")
        assert lines[11] not in replies[-1]  # its goodbye, not its whole closing line
        packed = "Gern, ich packe Ihnen das ein."  # the order answered, its question left out
        assert replies[-1].startswith(packed) == ("Tomaten" in said)
    else:
        assert "Bis nächsten Samstag!" not in replies[-1]


async def test_a_goodbye_to_the_closing_line_ends_at_once(alice, alice_session, offline, settings):
    """Said before the character's goodbye, the learner's goodbye has had its word: the
    closing line ends the scene, though a goal is open."""
    await fill(alice_session, 23)  # the learner's message is the 24th: the reply closes
    replies = await replies_to(alice, alice_session, ["Danke, tschüss!"])
    session = await session_row(alice_session.pk)
    assert replies[-1] == alice_session.scenario.offline_lines[-1]
    assert session.is_completed and 1 in await open_goals(alice_session)


@database_sync_to_async
def fill(session, total: int, first: int = 2):
    for index in range(first, total + 1):
        add_message(session, "user" if index % 2 == 0 else "scenario", "main", f"Satz {index}")


@database_sync_to_async
def open_goals(session) -> list[int]:
    from chat.goals import goal_states
    from lib.rls import acting_as_staff

    with acting_as_staff():
        return [state.number for state in goal_states(session.pk) if not state.reached]


async def test_a_question_answering_the_goodbye_is_answered_again(
    alice, alice_session, offline, settings
):
    """After the character's goodbye, "Was kostet ein Croissant?", asked before, got only
    "Auf Wiedersehen!" (a newcomer's recheck): its answer is said again, then the goodbye."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    await replies_to(alice, alice_session, ["Was kosten die Erdbeeren?"])
    await fill(alice_session, 23, first=4)
    goodbye = await replies_to(alice, alice_session, ["Danke."])  # the 24th: the reply closes
    assert goodbye[-1] == lines[-1]
    last = (await replies_to(alice, alice_session, ["Was kosten die Erdbeeren?"]))[-1]
    assert last == f"{AS_SAID} {lines[3].removesuffix(' Wie wäre es damit?')} Bis nächsten Samstag!"
    assert (await session_row(alice_session.pk)).is_completed


def test_a_goodbye_is_told_from_a_sentence_about_one():
    """The recheck's messages: those that ended scenes though no goodbye, and goodbyes that
    did not end them."""
    from chat.providers.offline import is_a_goodbye

    goodbyes = [
        "Tschüss 😊",
        "Ok tschüss 👍",
        "Ich muss los, tschüss!",
        "Gute Nacht, Lena!",
        "Nein danke, tschüss!",
        "Vielen lieben Dank, tschüss!",
        "Bis Montag!",
        "Bis nächsten Samstag!",
        "Auf Wiedersehen Herr Doktor Müller!",
        "Auf wiedersehen herr wagner",
        "Aufwiedersehen",
        "Wir sehen uns!",
    ]
    not_goodbyes = [
        "Ich muss morgen zur Arbeit gehen.",
        "Ich muss um 8 Uhr los.",
        "Bis nächste Woche, dann ziehe ich um.",
        "Bis später, bitte.",
        "Was heißt tschüss",
        "Tschüss ist ein schönes Wort.",
        "Ich hole die Tomaten bis später ab.",
        "Servus!",
        "Danke, Lena!",
    ]
    assert [said for said in goodbyes if not is_a_goodbye(said)] == []
    assert [said for said in not_goodbyes if is_a_goodbye(said)] == []


async def test_an_early_goodbye_answers_without_asking(alice, offline, settings):
    """ "Zwei Brötchen und ein Brot, bitte. Tschüss!" was answered "… Möchten Sie normale
    Brötchen oder Körnerbrötchen? … Auf Wiedersehen!": a question no one would answer."""
    session = await start_scene(alice, "bakery")
    replies = await replies_to(alice, session, ["Zwei Brötchen und ein Brot, bitte. Tschüss!"])
    assert "?" not in replies[-1] and replies[-1].endswith("Auf Wiedersehen!")
    assert (await session_row(session.pk)).is_completed


@pytest.mark.parametrize("asked", ["Was heißt tschüss", "Was bedeutet ein Kilo Tomaten?"])
async def test_asking_what_a_word_means_reaches_no_goal(alice, alice_session, offline, asked):
    """ "Was heißt tschüss" ticked "Say goodbye", and, its last open goal, closed the scene
    (the recheck)."""
    await replies_to(alice, alice_session, [asked])
    assert await reached_goals(alice_session) == []
    assert not (await session_row(alice_session.pk)).is_completed


@pytest.mark.parametrize("greeting", ["Servus! Ich heiße Sam.", "Ciao, ich bin Sam!", "Servus"])
async def test_a_word_that_greets_as_well_greets_in_the_first_message(
    alice, alice_session, offline, greeting
):
    """ "Servus! Ich heiße Sam." as the learner's first message ticked "Say goodbye": the
    pattern takes "servus" and "ciao", which say hello as much as goodbye (the last note's
    left item). Opening the learner's first message, they greet."""
    await replies_to(alice, alice_session, [greeting])
    assert await reached_goals(alice_session) == []
    assert not (await session_row(alice_session.pk)).is_completed


@pytest.mark.parametrize(
    ("code", "greeting", "answer"),
    [
        ("marketplace", "Servus!", "Servus! Was darf es sein?"),
        ("kebab", "Hallo!", "Hallo! Was darf es sein?"),
        ("buergeramt", "Servus!", "Servus! Was kann ich für Sie tun?"),
        ("train_ticket", "guten tag", "Guten Tag! Wohin möchten Sie fahren?"),
        (
            "pharmacy",
            "Hallo, wie geht's?",
            "Hallo! Gut, danke! Und Ihnen? Wie kann ich Ihnen helfen?",
        ),
        (
            "party",
            "Hallo, wie geht's?",
            "Hallo! Gut, danke! Und dir? Ich bin Lena, und wie heißt du?",
        ),
        # Not a greeting twice ("Grüß Gott! Guten Morgen, was kann ich …"), nor one of another
        # time of day ("Guten Morgen!" at the kebab shop in the evening): the recheck.
        ("doctor_phone", "Grüß Gott!", "Grüß Gott! Was kann ich für Sie tun?"),
        ("kebab", "Guten Morgen!", "Guten Abend! Was darf es sein?"),
        ("party", "Hi Lena! 👋", "Hi! Ich bin Lena, und wie heißt du?"),
        ("new_colleague", "Moin!", "Moin! Und wie heißt du?"),
    ],
)
async def test_a_first_message_that_only_greets_is_greeted_back_and_asked_again(
    alice, offline, settings, code, greeting, answer
):
    """A bare "Hallo!" got the script's first line, which answers an order or a name: "Gern!
    Möchten Sie das im Brot oder lieber als Dürüm?", "Oh, das tut mir leid. Seit wann haben
    Sie die Beschwerden?" (a newcomer's walk). The scene then goes on as it would have."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session = await start_scene(alice, code)
    lines = session.scenario.offline_lines
    assert await replies_to(alice, session, [greeting]) == [answer]
    assert (await replies_to(alice, session, ["Ich weiß nicht."]))[-1] == lines[0]


@pytest.mark.parametrize("said", ["Hallo, ein Kilo Tomaten bitte.", "Hallo, ich heiße Sam."])
async def test_a_greeting_with_more_gets_the_script(alice, alice_session, offline, said):
    [reply] = await replies_to(alice, alice_session, [said])
    assert not reply.startswith("Hallo!")


async def test_what_the_learner_turns_down_is_not_ordered(alice, offline, settings):
    """ "Nein, kein Brot. Haben Sie Kuchen?" to "Brauchen Sie auch ein Brot?" ticked "Buy a
    loaf of bread" (a newcomer's walk). "kein Brot" turns the bread down: the baker goes on
    to the cake, and no more bread. A goal that takes a no ("Ich habe keine BahnCard") is
    reached by one still."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session = await start_scene(alice, "bakery")
    lines = session.scenario.offline_lines
    said = ["Zwei Brötchen, bitte.", "Normale, bitte.", "Nein, kein Brot. Haben Sie Kuchen?"]
    replies = await replies_to(alice, session, said)
    assert replies[1] == lines[1]  # "Brauchen Sie auch ein Brot?"
    assert await reached_goals(session) == [1, 3]
    assert not any(line in replies[2] for line in lines[2:4])  # no breads, no cut
    assert lines[6] in replies[2]  # the cake's answer

    train = await start_scene(alice, "train_ticket", replacing=session)
    await replies_to(alice, train, ["Nach Berlin, bitte. Ich habe keine BahnCard."])
    assert 4 in await reached_goals(train)


@pytest.mark.parametrize(
    ("code", "asked", "listed"),
    [
        ("doctor_phone", "How do I say 'appointment'?", ["„der Termin“ (appointment)"]),
        ("restaurant", "How do I ask for the bill?", ["„Zahlen, bitte!“ (The bill, please!)"]),
        (
            "doctor_phone",
            "what are symptoms and fever?",
            [
                "„die Beschwerden“ (complaints, symptoms (plural))",
                "„das Fieber“ (fever, temperature)",
            ],
        ),
        ("party", "What do I say for 'please'?", None),  # a word that names nothing of its own
        # A short meaning, and a part of one asked for, missed (the recheck).
        ("party", "What is 'job' in German?", ["„der Beruf“ (job, profession)"]),
        (
            "party",
            "How do I say I have to go?",
            ["„Ich muss leider los.“ (I'm afraid I have to go.)"],
        ),
        (
            "doctor_phone",
            "How do I say 'sore throat'?",
            ["„Ich habe Halsschmerzen.“ (I have a sore throat.)"],
        ),
    ],
)
async def test_the_offline_helper_finds_words_by_the_meaning_asked_for(
    alice, offline, code, asked, listed
):
    """ "How do I say 'appointment'?" got a tip about something else (a newcomer's walk): the
    scene's word list has „der Termin“ (appointment)."""
    from chat.providers.offline import CANNOT_READ_QUESTION_MEANINGS
    from tests.chat.test_ask_the_helper import helper_answer

    answer = await helper_answer(alice, await start_scene(alice, code), asked)
    if listed is None:
        assert answer.startswith(CANNOT_READ.format(what="your question"))
    else:
        note = CANNOT_READ_QUESTION_MEANINGS.format(what="your question")
        assert answer.split("\n") == [note, *listed]


@pytest.mark.parametrize(
    "asked",
    [
        "Wie bitte?",
        "Können Sie das bitte wiederholen?",
        "Entschuldigung, noch einmal bitte.",
        "Ich habe das nicht verstanden.",
        "koennen Sie das langsamer sagen?",
    ],
)
async def test_asked_to_say_it_again_the_character_says_its_line_again(
    alice, alice_session, offline, settings, asked
):
    """ "Wie bitte?" and "Können Sie das wiederholen?" were passed over: the pharmacist went
    on to the dosage (a newcomer's walk). The line is said again, and a yes answers it."""
    from chat.providers.offline import SAID_AGAIN

    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    lines = alice_session.scenario.offline_lines
    said = ["Ich schaue nur.", asked, asked, "Ja, gerne."]
    replies = await replies_to(alice, alice_session, said)
    assert replies == [lines[0], f"{SAID_AGAIN} {lines[0]}", f"{SAID_AGAIN} {lines[0]}", lines[1]]


async def test_asked_to_say_its_goodbye_again_the_character_leaves_the_last_word_still(
    alice, offline
):
    from chat.providers.offline import SAID_AGAIN

    session = await start_scene(alice, "kebab")
    await database_sync_to_async(add_message)(
        session, "user", "main", "Einen Döner zum Mitnehmen, bitte."
    )
    goodbye = session.scenario.offline_lines[-1]
    await database_sync_to_async(add_message)(session, "scenario", "main", goodbye)
    assert await replies_to(alice, session, ["Wie bitte?"]) == [
        goodbye,
        f"{SAID_AGAIN} {goodbye}",
    ]
    assert not (await session_row(session.pk)).is_completed
    await replies_to(alice, session, ["Tschüss!"])
    assert (await session_row(session.pk)).is_completed


@pytest.mark.parametrize(
    ("code", "first", "greeted", "then"),
    [
        (
            "marketplace",
            ["Wie bitte?", "Guten Morgen!"],
            "Guten Morgen! Was darf es sein?",
            "Ein Kilo Tomaten, bitte.",
        ),
        (
            "train_ticket",
            ["Guten Tag!", "Guten Tag!"],
            "Guten Tag! Wohin möchten Sie fahren?",
            "Nach Berlin, bitte.",
        ),
    ],
)
async def test_a_greeting_or_a_wie_bitte_before_the_script_starts_does_not_move_it_on(
    alice, offline, settings, code, first, greeted, then
):
    """ "Wie bitte?" then "Guten Morgen!" got „Alles klar. Wie viel darf es denn sein?" of
    nothing named, and a second "Guten Tag!" "An welchem Tag möchten Sie fahren?" (the
    recheck): a greeting anywhere is greeted back, and the script starts where it would."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session = await start_scene(alice, code)
    replies = await replies_to(alice, session, [*first, then])
    assert replies[1] == greeted
    fresh = await start_scene(alice, code, replacing=session)
    assert replies[-1] == (await replies_to(alice, fresh, [then]))[-1]


async def test_wie_bitte_to_the_goodbye_once_the_scenes_length_is_up_ends_it(alice, offline):
    """Asked again after the goodbye said at the 25th message, the character said it again
    and the scene went on to 29, past the "ends by 27" its bar said (the recheck)."""
    from chat.providers.offline import SAID_AGAIN

    session = await start_scene(alice, "kebab")
    lines = session.scenario.offline_lines
    for line in [*lines[:11], lines[-1]]:
        await database_sync_to_async(add_message)(session, "user", "main", "Hm.")
        await database_sync_to_async(add_message)(session, "scenario", "main", line)
    assert len(await stored(session.pk, "main")) == 25
    assert (await replies_to(alice, session, ["Wie bitte?"]))[-1] == f"{SAID_AGAIN} {lines[-1]}"
    row = await session_row(session.pk)
    assert row.is_completed and len(await stored(session.pk, "main")) == 27


async def test_what_the_learner_turned_down_is_not_offered_again(alice, offline, settings):
    """ "Nein danke, ich brauche keine Brötchen." was asked which rolls; "Nein, kein Brot." to
    which rolls was asked "Brauchen Sie auch ein Brot?"; "Keinen Kaffee, danke." was offered
    a coffee a few lines on (the recheck)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session = await start_scene(alice, "bakery")
    lines = session.scenario.offline_lines
    [reply] = await replies_to(alice, session, ["Nein danke, ich brauche keine Brötchen."])
    assert "Körnerbrötchen" not in reply

    session = await start_scene(alice, "bakery", replacing=session)
    replies = await replies_to(alice, session, ["Vier Brötchen, bitte.", "Nein, kein Brot."])
    assert replies[0] == lines[0] and "Brot?" not in replies[1]

    fillers = ["Zwei Brötchen, bitte.", "Normale.", "Ja, ein Roggenbrot.", "Ja, bitte.", "Hm."]
    control = await start_scene(alice, "bakery", replacing=session)
    assert lines[6] in await replies_to(alice, control, [*fillers, "Hm.", "Hm."])
    session = await start_scene(alice, "bakery", replacing=control)
    replies = await replies_to(alice, session, ["Keinen Kaffee, danke.", *fillers, "Hm."])
    assert lines[6] not in replies and lines[7] in replies


async def test_bread_turned_down_is_not_told_of_a_turn_later(alice, offline, settings):
    """ "Nein, kein Brot. Ich möchte vier Brötchen, bitte." then "Normale Brötchen, bitte."
    was told "Wir haben Roggenbrot, Vollkornbrot und Weißbrot." (the recheck)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session = await start_scene(alice, "bakery")
    lines = session.scenario.offline_lines
    said = ["Guten Morgen!", "Nein, kein Brot. Ich möchte vier Brötchen, bitte.", "Normale."]
    replies = await replies_to(alice, session, said)
    assert replies[1] == lines[0] and not any("brot" in r.lower() for r in replies[2:])


async def test_a_greeting_mid_scene_asks_the_last_question_again_wherever_it_stands(alice, offline):
    from chat.providers.offline import SAID_AGAIN

    session = await start_scene(alice, "bakery")
    cake = session.scenario.offline_lines[5]  # "Wie wäre es mit Kuchen …? Heute haben wir …"
    await database_sync_to_async(add_message)(session, "user", "main", "Zwei Brötchen, bitte.")
    await database_sync_to_async(add_message)(session, "scenario", "main", cake)
    replies = await replies_to(alice, session, ["Grüß Gott!", "Wie bitte?"])
    question = "Wie wäre es mit Kuchen für den Nachmittag?"
    # Said again, the greeting is not (it said "Guten Abend!" again each time: the recheck).
    assert replies[1:] == [f"Grüß Gott! {question}", f"{SAID_AGAIN} {question}"]
