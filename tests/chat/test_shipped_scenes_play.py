"""Every shipped scene plays offline to its end: a learner who says what each goal asks for
sees every goal tick, the character says its goodbye, and the session completes."""

import pytest
from channels.db import database_sync_to_async

from chat.models import ReachedGoal
from chat.prompting import CONCLUDE_AT
from lib.rls import acting_as_staff
from scenarios import lifecycle
from scenarios.models import Scenario, Session
from tests.chat.conftest import FINISHED, Tab, chat_db, session_row, settle
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


@pytest.mark.parametrize("code", SAYS)
async def test_every_shipped_scene_plays_offline_to_its_end(alice, offline, settings, code):
    """Every goal but the last, then small talk: the script, line by line, until the reply
    that is message 25 closes the scene with its last line (the whole script was played,
    to 29 messages, where the page says "about 15 to 25": a newcomer's walk)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"  # a learner who types fast
    session, script, goal_count = await start(alice, code)
    turns = min(len(script), (CONCLUDE_AT - 1) // 2)  # after the character's opening line
    tab = Tab(alice, session.pk)
    await tab.connect()
    says = SAYS[code][:-1] + ["Hm."] * len(script)
    for line, message in zip([*script[: turns - 1], script[-1]], says, strict=False):
        await tab.send(message=message)
        finished = await tab.until(FINISHED)
        assert line.split()[0] in finished  # the script, line by line
    await settle()
    await tab.close()
    assert goal_count == len(SAYS[code])
    assert await outcome(session.pk) == (True, goal_count - 1)
    assert "Scene complete" in finished
    assert (await session_row(session.pk)).message_count_main == 1 + 2 * turns <= CONCLUDE_AT


@pytest.mark.parametrize("code", SAYS)
async def test_every_shipped_scene_ends_offline_once_every_goal_is_reached(
    alice, offline, settings, code
):
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    session, script, goal_count = await start(alice, code)
    tab = Tab(alice, session.pk)
    await tab.connect()
    for turn, message in enumerate(SAYS[code]):
        await tab.send(message=message)
        finished = await tab.until(FINISHED)
        line = script[-1] if turn == goal_count - 1 else script[turn]
        assert line.split()[0] in finished
    await settle()
    await tab.close()
    assert await outcome(session.pk) == (True, goal_count)
    assert "Scene complete" in finished and finished.count("goal goal-reached") in (0, goal_count)
