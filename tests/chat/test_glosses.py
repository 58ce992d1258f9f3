"""Meanings for cards kept without one (a chat line, words selected in it): asked of the model
by a queued task once the keep commits, one call for the request's cards through the real SDK,
stored on each card unless it has one; offline, over the day's budget or on a bad answer the
cards stay without one, and the review page says so; until then the deck says the meaning is
on its way."""

import pytest
from django.db.models.functions import Now
from django.test import Client
from django_tasks_db.models import DBTaskResult

from chat import allowance
from eventlog.models import Log
from learning import deck
from learning.models import Card
from lib.rls import acting_as_learner, acting_as_staff
from tests.chat.conftest import chat_db, run_due_tasks, run_task_worker
from tests.conftest import raw_connection
from tests.support.fake_anthropic import PlannedResponse, ToolUse

pytestmark = chat_db

LINE = "Die Tomaten sind heute besonders frisch."
EXAMPLE = "Ja, gern! Die Tomaten sind heute besonders frisch."


def meanings(*pairs) -> PlannedResponse:
    entries = [{"german": german, "gloss": gloss} for german, gloss in pairs]
    return PlannedResponse(text="", tool_use=ToolUse("glosses", {"glosses": entries}))


def keep(learner, marketplace, *words, gloss=None, example=EXAMPLE):
    client = Client()
    client.force_login(learner)
    fields = {"german": list(words), "example": example, "scenario": str(marketplace.pk)}
    if gloss is not None:
        fields["gloss"] = gloss
    response = client.post("/deck/keep/", fields, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return client


def events(event_type=None) -> list[tuple[str, str, dict]]:
    with acting_as_staff():
        logs = Log.objects.order_by("created_at")
        if event_type:
            logs = logs.filter(event_type=event_type)
        return [(log.event_type, log.level, log.metadata) for log in logs]


def glosses_of(learner) -> dict[str, str]:
    return {card.german: card.gloss for card in deck.all_cards(learner.pk)}


def calls_left(learner) -> int:
    with acting_as_learner(learner.pk):
        return allowance.calls_left(learner.email)


def test_a_line_kept_without_a_meaning_gets_one_from_the_model(alice, marketplace, fake_anthropic):
    fake_anthropic.enqueue(meanings((LINE, "The tomatoes are especially fresh today.")))
    calls = calls_left(alice)
    client = keep(alice, marketplace, LINE)
    assert glosses_of(alice) == {LINE: ""}

    assert run_due_tasks() == ["glossed 1 of 1"]

    assert glosses_of(alice) == {LINE: "The tomatoes are especially fresh today."}
    [request] = fake_anthropic.requests
    assert request.body["tool_choice"] == {"type": "tool", "name": "glosses"}
    asked = request.body["messages"][0]["content"][0]["text"]
    assert LINE in asked and EXAMPLE in asked and marketplace.title in asked
    assert calls_left(alice) == calls - 1  # it spends one of the day's model calls
    logged = events("api_call_started") + events("api_call_completed")
    assert [metadata["chat"] for _, _, metadata in logged] == ["gloss", "gloss"]
    assert "Tomaten" not in str(events())  # never the words themselves
    review = client.get("/review/").content.decode()
    assert "The tomatoes are especially fresh today." in review
    assert "No meaning saved" not in review


def test_one_call_for_the_cards_of_a_request_each_matched_by_its_words(
    alice, marketplace, fake_anthropic
):
    fake_anthropic.enqueue(
        meanings(
            ("  die tomaten ", "the tomatoes"),  # written back in another case: still matched
            ("frisch", "fresh"),
            ("Gurken", "cucumbers"),  # not asked for: stored nowhere
        )
    )
    keep(alice, marketplace, "die Tomaten", "frisch", "besonders")

    assert run_due_tasks() == ["glossed 2 of 3"]

    assert len(fake_anthropic.requests) == 1
    assert glosses_of(alice) == {"besonders": "", "die Tomaten": "the tomatoes", "frisch": "fresh"}


def test_words_kept_with_their_meaning_ask_for_none(alice, marketplace, fake_anthropic):
    keep(alice, marketplace, "die Schale", gloss="punnet")  # a report's word
    keep(alice, marketplace, "die Schale")  # in the deck already: nothing new

    assert run_due_tasks() == []
    assert fake_anthropic.requests == []
    assert glosses_of(alice) == {"die Schale": "punnet"}


def test_offline_or_with_the_days_calls_spent_the_card_stays_without(
    alice, marketplace, settings, fake_anthropic
):
    client = keep(alice, marketplace, LINE, example="")
    settings.ANTHROPIC_API_KEY = ""  # gone by the time the task runs
    assert run_due_tasks() == ["offline"]

    settings.ANTHROPIC_API_KEY = "test-key"
    with acting_as_learner(alice.pk):
        allowance.MODEL_CALLS.take(alice.email, cost=calls_left(alice))
    keep(alice, marketplace, "frisch")
    assert run_due_tasks() == ["budget"]

    assert fake_anthropic.requests == []
    assert glosses_of(alice) == {LINE: "", "frisch": ""}
    review = client.get("/review/").content.decode()
    assert "No meaning saved with this card: write it on" in review
    assert "ask the helper" not in review  # which, offline, cannot read (a newcomer's walk)


@pytest.mark.parametrize(
    "answer",
    [
        PlannedResponse(text="The tomatoes are fresh."),  # no tool call
        PlannedResponse(text="", tool_use=ToolUse("glosses", {"glosses": "fresh"})),
        meanings((LINE, "fresh\x00")),  # nothing a card can hold
        PlannedResponse(status=400, error_type="invalid_request_error"),
    ],
    ids=["no call", "malformed", "unprintable", "refused"],
)
def test_a_bad_answer_stores_nothing_and_is_logged(alice, marketplace, fake_anthropic, answer):
    fake_anthropic.enqueue(answer)
    keep(alice, marketplace, LINE)

    assert run_due_tasks() == ["failed"]

    assert glosses_of(alice) == {LINE: ""}
    [(_, level, metadata)] = events("api_call_failed")
    assert level == "error" and metadata["chat"] == "gloss"


def test_only_the_learners_own_cards_without_a_meaning_are_asked_for(
    alice, bob, marketplace, fake_anthropic
):
    keep(alice, marketplace, LINE)
    [card] = deck.all_cards(alice.pk)
    from chat.tasks import gloss_cards

    assert gloss_cards.call(str(bob.pk), [str(card.pk)]) == "nothing to gloss"
    assert deck.add_glosses(bob.pk, {str(card.pk): "stolen"}) == 0

    # A card that has its meaning by the time the answer comes keeps it.
    with acting_as_learner(alice.pk):
        Card.objects.filter(pk=card.pk).update(gloss="mine")
    assert deck.add_glosses(alice.pk, {str(card.pk): "the model's"}) == 0
    assert glosses_of(alice) == {LINE: "mine"}
    assert fake_anthropic.requests == []
    run_due_tasks()  # its own task finds nothing left to ask for
    assert fake_anthropic.requests == [] and glosses_of(alice) == {LINE: "mine"}


def test_the_worker_gives_a_kept_line_its_meaning(alice, marketplace, fake_anthropic):
    """As it runs in production: `task_worker` (as maraum_staff), the SDK, the fake server."""
    fake_anthropic.enqueue(meanings((LINE, "The tomatoes are especially fresh today.")))
    keep(alice, marketplace, LINE)
    worker = run_task_worker(ANTHROPIC_API_KEY="test-key", ANTHROPIC_BASE_URL=fake_anthropic.url)
    assert worker.returncode == 0, worker.stderr[-2000:]
    assert glosses_of(alice) == {LINE: "The tomatoes are especially fresh today."}
    assert "Tomaten" not in worker.stdout + worker.stderr  # no card's words in the log


def shown(client) -> tuple[str, str]:
    return client.get("/deck/").content.decode(), client.get("/review/").content.decode()


ON_ITS_WAY = "on its way"
NONE_SAVED = "No meaning saved with this card"


def test_a_card_whose_meaning_is_asked_for_says_it_is_on_its_way(
    alice, marketplace, fake_anthropic
):
    fake_anthropic.enqueue(meanings((LINE, "The tomatoes are especially fresh today.")))
    client = keep(alice, marketplace, LINE, example="")

    deck_page, review = shown(client)
    assert ON_ITS_WAY in deck_page and ON_ITS_WAY in review
    assert NONE_SAVED not in review

    assert run_due_tasks() == ["glossed 1 of 1"]
    deck_page, review = shown(client)
    assert "The tomatoes are especially fresh today." in deck_page
    assert ON_ITS_WAY not in deck_page + review


@pytest.mark.parametrize("outcome", ["budget", "failed"])
def test_a_meaning_that_will_not_come_is_no_longer_on_its_way(
    alice, marketplace, fake_anthropic, outcome
):
    if outcome == "budget":
        with acting_as_learner(alice.pk):
            allowance.MODEL_CALLS.take(alice.email, cost=calls_left(alice))
    else:
        fake_anthropic.enqueue(PlannedResponse(text="The tomatoes are fresh."))
    client = keep(alice, marketplace, LINE, example="")
    assert ON_ITS_WAY in shown(client)[1]

    assert run_due_tasks() == [outcome]

    deck_page, review = shown(client)
    assert ON_ITS_WAY not in deck_page + review and NONE_SAVED in review


def test_offline_or_with_no_worker_no_meaning_is_said_to_be_on_its_way(
    alice, marketplace, settings, fake_anthropic
):
    settings.ANTHROPIC_API_KEY = ""
    client = keep(alice, marketplace, "frisch", example="Die Tomaten sind frisch.")
    assert ON_ITS_WAY not in shown(client)[0]
    # With an example, and no meaning, the card said nothing of it (a newcomer's walk).
    assert NONE_SAVED in shown(client)[1]

    # Asked for, but no worker ran it in time (a worker that is down): the wait is over.
    settings.ANTHROPIC_API_KEY = "test-key"
    keep(alice, marketplace, LINE, example="")
    assert ON_ITS_WAY in shown(client)[0]
    with acting_as_staff():
        Card.objects.update(meaning_asked_at=Now() - Card.MEANING_WAIT)
    deck_page, review = shown(client)
    assert ON_ITS_WAY not in deck_page + review and NONE_SAVED in review


def test_meanings_and_reports_are_asked_for_in_the_order_queued(alice, marketplace, fake_anthropic):
    """Meanings went first: a learner keeping a line every few seconds held back every scene
    report for as long as they went on (the recheck replay). Their own tasks are one at a time
    (below), so a report waits for at most one call of each such learner."""
    from chat import tasks
    from tests.conftest import start_session

    tasks.enqueue(start_session(alice, marketplace).pk)
    keep(alice, marketplace, LINE)
    with acting_as_staff():
        queued = [result.task_path for result in DBTaskResult.objects.ready()]
    assert queued == ["chat.tasks.write_report", "chat.tasks.gloss_cards"]


def test_lines_kept_one_after_another_get_their_meanings_in_one_call(
    alice, marketplace, fake_anthropic
):
    """A keep request each queued a call each, and every learner's scene report waited behind
    them (15 keeps: a report after 61 s, in the attacker's replay). The first task takes every
    card whose meaning is on its way; the others have nothing left to ask."""
    lines = ["Guten Morgen!", "Was kosten die Tomaten?", "Ein Kilo, bitte."]
    fake_anthropic.enqueue(meanings(*[(line, f"meaning {n}") for n, line in enumerate(lines)]))
    for line in lines:
        keep(alice, marketplace, line)

    assert run_due_tasks() == ["glossed 3 of 3"]  # one task waits for the learner, not three

    assert len(fake_anthropic.requests) == 1
    assert glosses_of(alice) == {line: f"meaning {n}" for n, line in enumerate(lines)}
    assert not any(card.meaning_on_its_way for card in deck.all_cards(alice.pk))


def test_one_worker_at_a_time_asks_for_a_learners_meanings(alice, marketplace, fake_anthropic):
    """With two workers, each asked for the same cards (two calls, two of the day's model
    calls: the recheck replay). The second waits and tries again a little later."""
    fake_anthropic.enqueue(meanings((LINE, "The tomatoes are especially fresh today.")))
    keep(alice, marketplace, LINE)
    with raw_connection() as other_worker:
        other_worker.execute(
            "SELECT pg_advisory_lock(hashtextextended(%s, 0))", [f"maraum:meanings:{alice.pk}"]
        )
        assert run_due_tasks() == ["another worker is asking"]
    assert fake_anthropic.requests == []
    assert [card.meaning_on_its_way for card in deck.all_cards(alice.pk)] == [True]
    with acting_as_staff():
        [again] = DBTaskResult.objects.filter(status="READY")
        again.run_after = Now()  # its few seconds have passed
        again.save(update_fields=["run_after"])

    assert run_due_tasks() == ["glossed 1 of 1"]
    assert len(fake_anthropic.requests) == 1


def test_more_lines_than_one_call_takes_all_get_their_meanings(alice, marketplace, fake_anthropic):
    """Keeps made while a learner's task waited queued no other, and it takes 20 cards: the
    rest waited for ever (the recheck replay)."""
    lines = [f"Zeile {n}" for n in range(25)]
    pairs = [(line, f"line {n}") for n, line in enumerate(lines)]
    fake_anthropic.enqueue(meanings(*pairs[:20]), meanings(*pairs[20:]))  # oldest first
    for line in lines:
        keep(alice, marketplace, line)

    assert run_due_tasks() == ["glossed 20 of 20", "glossed 5 of 5"]
    assert glosses_of(alice) == {line: f"line {n}" for n, line in enumerate(lines)}


def test_meanings_whose_worker_was_killed_are_asked_for_when_a_worker_starts(
    alice, marketplace, fake_anthropic
):
    """A worker killed mid-call left its task "running" for ever, and the card waited until
    the learner kept something else (the recheck replay)."""
    fake_anthropic.enqueue(meanings((LINE, "The tomatoes are especially fresh today.")))
    keep(alice, marketplace, LINE)
    with acting_as_staff():
        DBTaskResult.objects.update(status="RUNNING", started_at=Now())  # its worker died

    worker = run_task_worker(ANTHROPIC_API_KEY="test-key", ANTHROPIC_BASE_URL=fake_anthropic.url)

    assert worker.returncode == 0, worker.stderr[-2000:]
    assert glosses_of(alice) == {LINE: "The tomatoes are especially fresh today."}


def test_with_the_model_unavailable_lines_kept_meanwhile_wait_and_go_in_one_call(
    alice, marketplace, fake_anthropic, monkeypatch
):
    """With the model failing, each keep's call was tried 3 times: 15 keeps, 45 requests (the
    recheck replay). After a call finds it unavailable, the worker's meanings tasks wait out
    a back-off, and then ask once for every card kept meanwhile."""
    from chat import tasks

    overloaded = PlannedResponse(status=529, error_type="overloaded_error")
    fake_anthropic.enqueue(overloaded, overloaded, overloaded)
    keep(alice, marketplace, LINE)
    assert run_due_tasks() == ["failed"]
    assert len(fake_anthropic.requests) == 3  # the call's own retries

    lines = ["Guten Morgen!", "Was kosten die Tomaten?", "Ein Kilo, bitte."]
    for line in lines:
        keep(alice, marketplace, line)
    assert run_due_tasks() == ["the model is unavailable: asking later"]
    assert len(fake_anthropic.requests) == 3
    on_its_way = {card.german: card.meaning_on_its_way for card in deck.all_cards(alice.pk)}
    assert on_its_way == {LINE: False, **dict.fromkeys(lines, True)}

    monkeypatch.setattr(tasks, "_model_unavailable_until", 0.0)  # the back-off has passed
    with acting_as_staff():
        [later] = DBTaskResult.objects.filter(status="READY")
        later.run_after = Now()
        later.save(update_fields=["run_after"])
    fake_anthropic.enqueue(meanings(*[(line, f"meaning {n}") for n, line in enumerate(lines)]))
    assert run_due_tasks() == ["glossed 3 of 3"]
    assert len(fake_anthropic.requests) == 4
