"""The scene report: asked for when a scene completes, written by a queued background task
(offline without a model, else by the model's scene_report tool through the real SDK),
validated, retried, stored once, shown on the completion panel, transcript and history."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models.functions import Now
from django.test import Client
from django_tasks_db.models import DBTaskResult

from chat import reports
from chat.models import Message, SceneReport
from chat.reports import REPORT_ATTEMPTS
from learning import deck
from lib.rls import acting_as_learner, acting_as_staff
from scenarios import lifecycle
from scenarios.models import Session
from tests.chat.conftest import (
    FINISHED,
    Tab,
    chat_db,
    events,
    run_due_tasks,
    run_task_worker,
    settle,
)
from tests.conftest import add_message, database_url, raw_connection, until_a_lock_is_awaited
from tests.support.fake_anthropic import PlannedResponse, ToolUse

pytestmark = chat_db

GOOD_REPORT = {
    "goals": [
        {"goal": 1, "reached": True, "how": "You said “Guten Morgen!”."},
        {"goal": 2, "reached": True, "how": "You asked for a newspaper."},
        {"goal": 3, "reached": False, "how": "You left without a goodbye."},
    ],
    "corrections": [
        {
            "wrote": "Ich will Zeitung.",
            "better": "Ich hätte gern eine Zeitung.",
            "why": "“hätte gern” is the polite way to ask; “Zeitung” needs its article.",
            "right": "The word order is right.",
        }
    ],
    "words": [{"german": "die Zeitung", "gloss": "newspaper"}],
    "tip": "Say goodbye before you leave: “Auf Wiedersehen!”",
    "level_estimate": {"level": "A1", "note": "Short, clear sentences; too little to tell more."},
}


def report_reply(content) -> PlannedResponse:
    return PlannedResponse(text="", tool_use=ToolUse("scene_report", content))


@database_sync_to_async
def kiosk_session(user, kiosk):
    session = lifecycle.start_session(user.pk, kiosk)
    add_message(session, "scenario", "main", kiosk.initial_message_main)
    add_message(session, "helper", "helper", kiosk.initial_message_helper)
    return session


async def play_to_the_end(user, session, *, plans=None, fake=None):
    """The learner greets, asks the helper, buys a paper; the character closes the scene
    (offline, its goodbye, with a goal open, leaves the learner the last word: a wish returned)."""
    if fake is not None:
        fake.enqueue(  # the greeting and the paper reach goals 1 and 2, as GOOD_REPORT says
            PlannedResponse(text="Guten Morgen!", tool_use=ToolUse("reach_goal", {"goal": 1})),
            PlannedResponse(text="„Zeitung“ means newspaper."),
            PlannedResponse(
                text="Bitte sehr, tschüss!",
                tool_use=ToolUse("end_scenario", {"reason": "bought a paper"}),
                tool_uses=[ToolUse("reach_goal", {"goal": 2})],
            ),
            *(plans or []),
        )
    tab = Tab(user, session.pk)
    await tab.connect()
    for chat, message in [
        ("main", "Guten Morgen!"),
        ("helper", "What is a Zeitung?"),
        ("main", "Ich will Zeitung."),
        *([("main", "Danke, Ihnen auch.")] if fake is None else []),
    ]:
        await tab.send(chat=chat, message=message)
        await tab.until(FINISHED)
    await settle()
    await tab.close()


run_queued_tasks = database_sync_to_async(run_due_tasks)


@database_sync_to_async
def report_on(session_id) -> SceneReport:
    with acting_as_staff():
        return SceneReport.objects.get(session_id=session_id)


@database_sync_to_async
def page(user, url) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


async def test_offline_a_simple_report_is_queued_and_written(alice, kiosk, offline):
    kiosk.offline_lines = ["Guten Morgen!", "Auf Wiedersehen!"]
    await kiosk.asave()
    session = await kiosk_session(alice, kiosk)
    await play_to_the_end(alice, session)
    assert (await report_on(session.pk)).status == "pending"
    pending = await page(alice, f"/sessions/{session.pk}/report/")
    # It asks again, also after a check that failed.
    assert "being written" in pending and 'hx-trigger="load delay:3s, every 5s"' in pending
    assert await run_queued_tasks() == ["offline"]
    report = await report_on(session.pk)
    assert (report.status, report.kind) == ("ready", "offline")
    # With no line of the character's or the script's using it: none (the learner's may hold
    # a mistake, a newcomer's recheck).
    assert report.content["words"] == [{"german": "die Zeitung", "gloss": "newspaper"}]
    assert report.content["questions"] == ["What is a Zeitung?"]
    # The wish returned to the goodbye says goodbye (offline, the pattern of the goal that
    # takes the character's goodbye).
    assert [g["reached"] for g in report.content["goals"]] == [True, True, True]
    shown = await page(alice, f"/sessions/{session.pk}/report/")
    assert "A simple report" in shown and "hx-trigger" not in shown  # done: no more polling
    assert "die Zeitung" in await page(alice, f"/history/{session.pk}/")
    assert "report: 1 word" in await page(alice, "/history/")  # offline: no corrections


async def test_the_model_writes_the_report_through_its_tool(alice, kiosk, fake_anthropic):
    session = await kiosk_session(alice, kiosk)
    await play_to_the_end(alice, session, fake=fake_anthropic, plans=[report_reply(GOOD_REPORT)])
    assert await run_queued_tasks() == ["written"]
    request = fake_anthropic.requests[-1].body
    assert request["tool_choice"] == {"type": "tool", "name": "scene_report"}
    assert "Learner: Ich will Zeitung." in request["messages"][0]["content"][0]["text"]
    report = await report_on(session.pk)
    assert (report.status, report.kind) == ("ready", "model")
    assert report.content["goals"][0]["text"] == "Greet Herr Yilmaz"
    shown = await page(alice, f"/history/{session.pk}/")
    assert "Ich hätte gern eine Zeitung." in shown and "Level estimate: A1" in shown
    logged = [e for e in await events() if (e[2] or {}).get("chat") == "report"]
    assert [e[0] for e in logged] == ["api_call_started", "api_call_completed"]
    assert "Zeitung" not in str(logged)  # never any content in the logs


async def test_a_report_shows_each_goal_once_and_exports_the_words_its_page_offers(
    alice, kiosk, fake_anthropic
):
    """A goal the model named twice was shown twice, reached and not; the export listed words
    the page leaves out (one of spaces, the same word in capitals): the attacker's replay."""
    messy = {
        **GOOD_REPORT,
        "goals": [
            {"goal": 2, "reached": True, "how": "You asked for a newspaper."},
            {"goal": 1, "reached": True, "how": ""},
            {"goal": 2, "reached": False, "how": "You did not."},
            {"goal": 9, "reached": True, "how": "No such goal."},
        ],
        "words": [
            {"german": "die Zeitung", "gloss": "newspaper"},
            {"german": "DIE ZEITUNG", "gloss": "NEWSPAPER"},
            {"german": " ", "gloss": "blank"},
        ],
    }
    session = await kiosk_session(alice, kiosk)
    await play_to_the_end(alice, session, fake=fake_anthropic, plans=[report_reply(messy)])
    assert await run_queued_tasks() == ["written"]
    goals = (await report_on(session.pk)).content["goals"]
    assert [(goal["goal"], goal["reached"]) for goal in goals] == [(1, True), (2, True), (3, False)]
    assert [goal["how"] for goal in goals] == ["", "You asked for a newspaper.", ""]
    exported = await page(alice, f"/history/{session.pk}/export.md")
    words = exported.split("### Words to keep\n", 1)[1].split("\n\n", 1)[0]
    assert words.strip().splitlines() == ["- die Zeitung — newspaper"]
    # And the history counts them so (it said "3 words": the attacker's recheck).
    assert "report: 1 correction, 1 word\n" in await page(alice, "/history/")


async def test_a_reports_goals_are_those_the_chat_marked_each_of_them(alice, kiosk, fake_anthropic):
    """The report said "not reached" of a goal ticked in the chat, and left the rest out (a
    newcomer's walk): it lists every goal, reached as the checklist and the completion's count
    say, with the model's word on how only where it agrees."""
    wrong = {
        **GOOD_REPORT,
        "goals": [
            {"goal": 1, "reached": True, "how": "You said “Guten Morgen!”."},
            {"goal": 2, "reached": False, "how": "You did not buy anything."},
        ],
    }
    session = await kiosk_session(alice, kiosk)
    await play_to_the_end(alice, session, fake=fake_anthropic, plans=[report_reply(wrong)])
    assert await run_queued_tasks() == ["written"]
    goals = (await report_on(session.pk)).content["goals"]
    assert [(goal["goal"], goal["reached"], goal["how"]) for goal in goals] == [
        (1, True, "You said “Guten Morgen!”."),
        (2, True, ""),
        (3, False, ""),
    ]
    shown = await page(alice, f"/sessions/{session.pk}/")
    assert "You did not buy anything" not in shown
    assert shown.count("(not reached)") == 1
    # The export says how too (it listed the goals without it: a newcomer's recheck).
    exported = await page(alice, f"/history/{session.pk}/export.md")
    goals = exported.split("## Goals\n", 1)[1].split("\n\n", 1)[0].strip().splitlines()
    assert goals[0] == "- [x] Greet Herr Yilmaz — You said “Guten Morgen!”."
    assert [goal[:6] for goal in goals] == ["- [x] ", "- [x] ", "- [ ] "]
    assert " — " not in goals[1] + goals[2]


async def test_a_malformed_report_is_asked_for_again_then_stored_as_failed(
    alice, kiosk, fake_anthropic
):
    session = await kiosk_session(alice, kiosk)
    broken = {**GOOD_REPORT, "level_estimate": {"level": "C9", "note": ""}}
    await play_to_the_end(
        alice, session, fake=fake_anthropic, plans=[report_reply(broken)] * REPORT_ATTEMPTS
    )
    assert await run_queued_tasks() == ["retrying"]  # the retry waits: run_after
    for _ in range(REPORT_ATTEMPTS - 1):
        await database_sync_to_async(_make_due)()
        await run_queued_tasks()
    report = await report_on(session.pk)
    assert (report.status, report.content) == ("failed", None)
    assert "could not write a report" in await page(alice, f"/history/{session.pk}/")
    failed = [e for e in await events("api_call_failed") if (e[2] or {}).get("chat") == "report"]
    assert [e[2]["reason"] for e in failed] == ["invalid_report"] * REPORT_ATTEMPTS


def _make_due():
    with acting_as_staff():
        DBTaskResult.objects.filter(status="READY").update(run_after=Now())


async def test_a_report_queued_before_a_restart_is_written_by_the_worker(alice, kiosk, offline):
    kiosk.offline_lines = ["Guten Morgen!", "Auf Wiedersehen!"]
    await kiosk.asave()
    session = await kiosk_session(alice, kiosk)
    await play_to_the_end(alice, session)  # no worker runs: the task waits in the queue
    worker = await database_sync_to_async(run_task_worker)(ANTHROPIC_API_KEY="")
    assert worker.returncode == 0, worker.stderr[-2000:]
    assert (await report_on(session.pk)).status == "ready"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE scene_reports SET status = 'ready', content = '{}'",
        "DELETE FROM scene_reports",
        "SELECT count(*) FROM django_tasks_database_dbtaskresult",
    ],
)
def test_learners_cannot_write_their_report_or_touch_the_queue(alice, kiosk, statement):
    from django.db import DatabaseError, connection

    session = lifecycle.start_session(alice.pk, kiosk)
    with acting_as_learner(alice.pk):
        SceneReport.objects.create(session_id=session.pk)
    with pytest.raises(DatabaseError, match="permission denied"), acting_as_learner(alice.pk):
        with connection.cursor() as cursor:
            cursor.execute(statement)


def test_a_learner_cannot_read_or_ask_for_anothers_report(alice, bob, kiosk):
    from django.db import DatabaseError

    session = lifecycle.start_session(alice.pk, kiosk)
    with acting_as_learner(alice.pk):
        SceneReport.objects.create(session_id=session.pk)
    with acting_as_learner(bob.pk):
        assert not SceneReport.objects.exists()
    client = Client()
    client.force_login(bob)
    assert client.get(f"/sessions/{session.pk}/report/").status_code == 404
    with pytest.raises(DatabaseError), acting_as_learner(bob.pk):
        SceneReport.objects.create(session_id=session.pk)


def test_deleting_the_account_deletes_its_reports(alice, kiosk):
    from accounts.deletion import delete_account

    session = lifecycle.start_session(alice.pk, kiosk)
    with acting_as_learner(alice.pk):
        SceneReport.objects.create(session_id=session.pk)
    delete_account(alice)
    with acting_as_staff():
        assert not SceneReport.objects.exists()


async def test_a_report_with_unprintable_text_is_asked_for_again_never_stored(
    alice, kiosk, fake_anthropic
):
    session = await kiosk_session(alice, kiosk)
    hostile = {**GOOD_REPORT, "tip": "Geheim\u0000danach"}
    await play_to_the_end(alice, session, fake=fake_anthropic, plans=[report_reply(hostile)])
    assert await run_queued_tasks() == ["retrying"]
    assert (await report_on(session.pk)).status == "pending"
    failed = [e for e in await events("api_call_failed") if (e[2] or {}).get("chat") == "report"]
    assert [e[2]["reason"] for e in failed] == ["invalid_report"]


async def test_a_completed_session_without_a_report_gets_one_asked_for(alice, kiosk, offline):
    @database_sync_to_async
    def completed_before_reports():
        session = lifecycle.start_session(alice.pk, kiosk)
        with acting_as_staff():
            from scenarios.models import Session

            Session.objects.filter(pk=session.pk).update(is_completed=True)
        return session

    session = await completed_before_reports()
    assert "being written" in await page(alice, f"/sessions/{session.pk}/report/")
    assert await run_queued_tasks() == ["offline"]
    assert (await report_on(session.pk)).status == "ready"


def test_an_offline_report_lists_the_scenes_words_the_learner_used_in_the_role_play(kiosk):
    kiosk.vocabulary = [
        {"german": "die Zeitung", "gloss": "newspaper"},
        {"german": "die Tomate", "gloss": "tomato"},
        {"german": "der Beruf", "gloss": "job"},
        {"german": "probieren", "gloss": "to try"},
    ]
    session = Session(scenario=kiosk)
    history = [
        Message(role="user", chat_type="main", content="Zwei Tomaten und eine Zeitung, bitte."),
        Message(role="user", chat_type="main", content="Ich bin beruflich hier."),
        # A question to the helper quoting the character's line: not the learner's own use.
        Message(role="user", chat_type="helper", content="Explain: „Möchten Sie probieren?“"),
        Message(role="helper", chat_type="helper", content="It means: would you like to try?"),
        # Pressed again: listed once (a newcomer's walk).
        Message(role="user", chat_type="helper", content="Explain: „Möchten Sie probieren?“"),
    ]
    report = reports.offline_report(session, history, [])
    assert [word["german"] for word in report["words"]] == ["die Zeitung", "die Tomate"]
    # The script's line as the example, not the learner's (it may hold a mistake: a
    # newcomer's recheck); "Tomate" is in the learner's only.
    assert [word.get("line") for word in report["words"]] == ["Die Zeitung kostet 2,50 Euro.", None]
    assert report["questions"] == ["Explain: „Möchten Sie probieren?“"]


def test_an_offline_report_lists_words_typed_without_umlauts(kiosk):
    """ "Doener" ticked the döner goal, and the report left "der Döner" out (a newcomer's
    walk)."""
    kiosk.vocabulary = [
        {"german": "der Döner", "gloss": "doner kebab"},
        {"german": "die Brötchen", "gloss": "bread rolls"},
    ]
    history = [
        Message(role="user", chat_type="main", content="Einen Doener und zwei Broetchen."),
    ]
    report = reports.offline_report(Session(scenario=kiosk), history, [])
    assert [word["german"] for word in report["words"]] == ["der Döner", "die Brötchen"]


def test_an_offline_report_words_example_is_the_characters_or_the_scripts_line(kiosk):
    """The learner's line was the example: "Was kostet die Erdbeeren?" taught its mistake on
    every review of "die Erdbeere" (a newcomer's walk), then of "Was kostet …?", which the
    character never said (the recheck): the character's line, else the script's, else none."""
    kiosk.vocabulary = [
        {"german": "die Erdbeere", "gloss": "strawberry"},
        {"german": "Was kostet …?", "gloss": "How much is …?"},
        {"german": "die Zeitung", "gloss": "newspaper"},
    ]
    kiosk.offline_lines = ["Guten Tag!", "Was kostet der Spaß? Nichts!"]
    history = [
        Message(role="scenario", chat_type="main", content="Die Erdbeeren sind heute süß!"),
        Message(role="user", chat_type="main", content="Was kostet die Erdbeeren? Und Zeitung?"),
        Message(role="scenario", chat_type="main", content="Drei Euro die Schale."),
    ]
    report = reports.offline_report(Session(scenario=kiosk), history, [])
    assert [(word["german"], word.get("line")) for word in report["words"]] == [
        ("die Erdbeere", "Die Erdbeeren sind heute süß!"),
        ("Was kostet …?", "Was kostet der Spaß? Nichts!"),
        ("die Zeitung", None),  # the learner's line only
    ]


async def test_a_model_reports_words_take_the_characters_lines_as_examples(
    alice, kiosk, fake_anthropic
):
    """The model's words came with no example at all: as an offline report's, the character's
    line, else the script's, else none."""
    session = await kiosk_session(alice, kiosk)
    words = [
        {"german": "der Morgen", "gloss": "morning"},
        {"german": "die Zeitung", "gloss": "newspaper"},
        {"german": "warm", "gloss": "warm"},
    ]
    report = report_reply({**GOOD_REPORT, "words": words})
    await play_to_the_end(alice, session, fake=fake_anthropic, plans=[report])
    assert await run_queued_tasks() == ["written"]
    content = (await report_on(session.pk)).content
    assert [word.get("line") for word in content["words"]] == [
        "Guten Morgen! Was darf es sein?",  # the character's opening line
        "Die Zeitung kostet 2,50 Euro.",  # the script's
        None,
    ]


def test_the_worker_outlives_the_database_going_away():
    """It ended for good when PostgreSQL stopped ("the database system is shutting down"), and
    reports stayed "being written" until it was started again. Here the database refuses new
    connections for a while."""
    import select
    import signal

    import psycopg
    from django.db import connection

    from tests.conftest import conninfo

    dbname = connection.settings_dict["NAME"]
    env = dict(os.environ, DATABASE_URL=database_url(), HTTPS="false", ANTHROPIC_API_KEY="")
    command = ["manage.py", "task_worker", "--interval", "0.1", "--no-startup-delay"]
    worker = subprocess.Popen(
        [sys.executable, *command, "--reconnect-every", "0.2"],
        cwd=settings.BASE_DIR,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )

    def said(words: str) -> bool:
        """Whether the worker says `words` before it ends (or 60 s pass)."""
        while select.select([worker.stderr], [], [], 60)[0]:
            line = worker.stderr.readline()
            if not line:
                return False
            if words in line:
                return True
        return False

    try:
        assert said("Starting worker")
        # From another database: none may disallow connections to the one it is in.
        with psycopg.connect(**{**conninfo(), "dbname": "postgres"}, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            try:  # the worker connects afresh each round (CONN_MAX_AGE 0)
                assert said("the task worker lost the database")
            finally:
                admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        assert said("Starting worker")  # back at work
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def _completed_without_a_report(user, scenario) -> Session:
    session = lifecycle.start_session(user.pk, scenario)
    with acting_as_staff():
        Session.objects.filter(pk=session.pk).update(is_completed=True)
    return session


def _report_tasks(session_id) -> list[str]:
    with acting_as_staff():
        return list(
            DBTaskResult.objects.filter(args_kwargs__args=[str(session_id)]).values_list(
                "status", flat=True
            )
        )


def test_two_pages_asking_for_a_missing_report_at_once_both_get_it(alice, kiosk):
    """The second asked as the first's request was still uncommitted: its insert waited on the
    key, then failed, and the page was a 500 with a traceback (the attacker's replay: two tabs'
    completion panels, or a transcript and its export)."""
    import threading

    from django.db import connection

    from chat.tasks import report_of

    session = _completed_without_a_report(alice, kiosk)
    with raw_connection() as first, raw_connection() as watcher:
        watcher.autocommit = True
        first.execute("SELECT set_config('role', 'maraum_learner', false)")
        first.execute("SELECT set_config('maraum.learner_id', %s, false)", [str(alice.pk)])
        first.execute(
            "INSERT INTO scene_reports (session_id, status, kind) VALUES (%s, 'pending', '')",
            [session.pk],
        )
        outcome = []

        def second_page():
            try:
                outcome.append(report_of(alice.pk, session.pk))
            except BaseException as error:  # examined below
                outcome.append(error)
            finally:
                connection.close()

        second = threading.Thread(target=second_page)
        second.start()
        until_a_lock_is_awaited(watcher)  # the other request waits on the row
        first.commit()
        second.join(15)
    assert isinstance(outcome[0], SceneReport), outcome
    assert outcome[0].status == "pending"
    assert _report_tasks(session.pk) == []  # the first request's own task writes it


def test_a_report_waiting_in_a_long_queue_is_not_queued_again(alice, kiosk, settings):
    """Stale was counted from the request: a report still queued behind a backlog after
    REPORT_STALE_AFTER was queued again, and two workers wrote it twice (two model calls)."""
    from chat.tasks import report_of

    session = _completed_without_a_report(alice, kiosk)
    assert report_of(alice.pk, session.pk).status == "pending"  # asked for, and queued
    with acting_as_staff():
        SceneReport.objects.filter(session_id=session.pk).update(
            requested_at=Now() - timedelta(seconds=settings.REPORT_STALE_AFTER + 60)
        )
    report_of(alice.pk, session.pk)
    report_of(alice.pk, session.pk)
    assert _report_tasks(session.pk) == ["READY"]


def test_a_report_whose_worker_died_writing_it_is_queued_again_once(alice, kiosk, settings):
    from chat.tasks import report_of

    session = _completed_without_a_report(alice, kiosk)
    report_of(alice.pk, session.pk)
    long_ago = Now() - timedelta(seconds=settings.REPORT_STALE_AFTER + 60)
    with acting_as_staff():
        SceneReport.objects.filter(session_id=session.pk).update(requested_at=long_ago)
        # Its worker took it, then was killed: the task stays "running" for ever.
        DBTaskResult.objects.filter(args_kwargs__args=[str(session.pk)]).update(
            status="RUNNING", started_at=long_ago
        )
    report_of(alice.pk, session.pk)
    report_of(alice.pk, session.pk)  # queued again just now: not stale any more
    assert sorted(_report_tasks(session.pk)) == ["READY", "RUNNING"]


def test_a_report_queued_again_says_it_is_being_written(alice, kiosk, settings):
    """The page that queued it again said "taking longer than usual", and its next check
    "being written" (the attacker's recheck)."""
    session = _completed_without_a_report(alice, kiosk)
    client = Client()
    client.force_login(alice)
    client.get(f"/sessions/{session.pk}/report/")
    long_ago = Now() - timedelta(seconds=settings.REPORT_STALE_AFTER + 60)
    with acting_as_staff():
        SceneReport.objects.filter(session_id=session.pk).update(requested_at=long_ago)
        DBTaskResult.objects.filter(args_kwargs__args=[str(session.pk)]).update(
            status="RUNNING", started_at=long_ago
        )
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "Your report is being written" in page and "longer than usual" not in page
    assert sorted(_report_tasks(session.pk)) == ["READY", "RUNNING"]  # queued again


def test_a_report_that_could_not_be_written_says_so_as_it_is_on_the_chat_page(alice, kiosk):
    """It said "Your transcript is below", which it is not there (the attacker's recheck)."""
    session = _completed_without_a_report(alice, kiosk)
    with acting_as_staff():
        SceneReport.objects.create(session_id=session.pk, status="failed")
    client = Client()
    client.force_login(alice)
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "We could not write a report on this scene this time" in page
    assert "transcript is below" not in page


def test_an_offline_report_with_nothing_in_it_says_so(kiosk):
    """It showed its heading and first line only (a newcomer's walk)."""
    from django.template.loader import render_to_string

    from chat.models import SceneReport

    session = Session(scenario=kiosk)
    history = [Message(role="user", chat_type="main", content="Hallo.")]
    content = reports.offline_report(session, history, [])
    report = SceneReport(session=session, status="ready", kind="offline", content=content)
    html = render_to_string("chat/partials/report.html", {"report": report, "kept": set()})
    assert "This time you used none of the scene's words" in html
    # Asked the helper, it said nothing of the words it promised (a newcomer's walk).
    history.append(Message(role="user", chat_type="helper", content="What is a kiosk?"))
    content = reports.offline_report(session, history, [])
    report = SceneReport(session=session, status="ready", kind="offline", content=content)
    html = render_to_string("chat/partials/report.html", {"report": report, "kept": set()})
    assert "This time you used none of the scene's words in the role-play." in html
    assert "What is a kiosk?" in html and "asked the helper nothing" not in html
    markdown = render_to_string("chat/transcript.md", {"report": report, "r": content})
    assert "This time you used none of the scene's words in the role-play." in markdown


def test_a_report_no_worker_takes_says_it_is_late_and_check_setup_warns(alice, kiosk):
    """With no task worker running, the report said "being written" for ever and nothing told
    the operator (a newcomer's walk)."""
    from lib import setup_checks, task_queue

    session = _completed_without_a_report(alice, kiosk)
    client = Client()
    client.force_login(alice)
    page = client.get(f"/sessions/{session.pk}/report/").content.decode()
    assert "Your report is being written" in page and "longer than usual" not in page
    assert [f.status for f in setup_checks._task_worker()] == ["ok"]

    minutes_ago = Now() - task_queue.WAITING_TOO_LONG - timedelta(seconds=1)
    with acting_as_staff():
        SceneReport.objects.filter(session_id=session.pk).update(requested_at=minutes_ago)
        DBTaskResult.objects.filter(args_kwargs__args=[str(session.pk)]).update(
            enqueued_at=minutes_ago
        )
    page = client.get(f"/sessions/{session.pk}/report/").content.decode()
    assert "Your report is taking longer than usual" in page
    [finding] = setup_checks._task_worker()
    assert finding.status == "warn" and "manage.py task_worker" in finding.text


def test_an_offline_report_lists_no_more_words_than_keep_all_keeps(client, alice, kiosk):
    """A scene of staff's with 25 words, all used: "Keep all" of the report was refused."""
    kiosk.vocabulary = [{"german": f"das Wort{n}", "gloss": f"word {n}"} for n in range(25)]
    session = Session(scenario=kiosk)
    line = " ".join(f"Wort{n}" for n in range(25))
    history = [Message(role="user", chat_type="main", content=line)]
    words = reports.offline_report(session, history, [])["words"]
    assert [w["german"] for w in words] == [f"das Wort{n}" for n in range(reports.MOST_WORDS)]
    client.force_login(alice)
    kept = client.post("/deck/keep/", {"german": [w["german"] for w in words]})
    assert kept.status_code == 302 and len(deck.all_cards(alice.pk)) == reports.MOST_WORDS


def test_a_finished_scenes_page_shows_its_report_as_it_stands(alice, kiosk):
    """Reopened, a finished scene's chat said "Your report is being written…" until its first
    check swapped in a report written long before (for ever without scripts: a newcomer's
    walk)."""
    session = _completed_without_a_report(alice, kiosk)
    client = Client()
    client.force_login(alice)
    pending = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "Your report is being written" in pending  # asked for now, by the page itself
    words = [{"german": "die Zeitung", "gloss": "the newspaper"}]
    with acting_as_staff():
        SceneReport.objects.filter(session_id=session.pk).update(
            status="ready", kind="offline", content={"words": words}
        )
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "being written" not in page
    assert '<h2 id="report-title">Your report</h2>' in page and "die Zeitung" in page


def test_a_report_word_whose_meaning_a_card_cannot_hold_is_offered_without_it(alice, kiosk):
    """The model's meaning of a zero-width space (or U+FFFD) passed the report's schema, and
    "Keep all" was refused for every word (the attacker's replay)."""
    import re
    from html import unescape

    session = _completed_without_a_report(alice, kiosk)
    words = [
        {"german": "scharf", "gloss": "\u200b"},
        {"german": "die Wurst", "gloss": "sausage \ufffd"},
        {"german": "die Zeitung", "gloss": "the newspaper"},
    ]
    with acting_as_staff():
        SceneReport.objects.update_or_create(
            session_id=session.pk,
            defaults={
                "status": "ready",
                "kind": "model",
                "content": {**GOOD_REPORT, "words": words},
            },
        )
    client = Client()
    client.force_login(alice)
    page = client.get(f"/sessions/{session.pk}/report/").content.decode()
    keep_all = page[page.index('<form method="post" action="/deck/keep/" class="keep-form"') :]
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', keep_all)
    form: dict[str, list[str]] = {}
    for name, value in fields:
        form.setdefault(name, []).append(unescape(value))
    assert '<span lang="de">scharf</span> <' in page  # no dash before a meaning it lacks
    assert client.post("/deck/keep/", form).status_code == 302
    kept = {card.german: card.gloss for card in deck.all_cards(alice.pk)}
    assert kept == {"scharf": "", "die Wurst": "", "die Zeitung": "the newspaper"}


def test_a_report_opened_as_a_page_shows_in_the_scenes_history(alice, kiosk):
    """Its address opened in the browser was the bare section the chat page swaps in, with no
    page around it (a newcomer's walk)."""
    session = _completed_without_a_report(alice, kiosk)
    client = Client()
    client.force_login(alice)
    address = f"/sessions/{session.pk}/report/"
    opened = client.get(address, headers={"Sec-Fetch-Dest": "document"})
    assert opened.status_code == 302 and opened["Location"] == f"/history/{session.pk}/#report"
    assert 'id="report"' in client.get(opened["Location"]).content.decode()
    swapped = client.get(address, headers={"Sec-Fetch-Dest": "empty", "HX-Request": "true"})
    assert swapped.content.decode().startswith('<div id="report"')
