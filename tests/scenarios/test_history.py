from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.db import DatabaseError

from lib.rls import acting_as_learner, acting_as_staff
from scenarios.history import PAGE_SIZE
from tests.conftest import run_sql, start_session


def _completed(user, scenario, count, *, start=None):
    start = start or datetime(2026, 1, 5, 12, tzinfo=UTC)
    sessions = []
    for n in range(count):
        session = start_session(user, scenario)
        with acting_as_staff():
            moment = start + timedelta(hours=n)
            run_sql(
                "UPDATE sessions SET started_at = %s, completed_at = %s, is_completed = true"
                " WHERE id = %s",
                [moment - timedelta(minutes=7), moment, session.pk],
            )
        sessions.append(session)
    return sessions


def test_history_lists_completed_sessions_newest_first(client, alice, marketplace, party):
    old, new = _completed(alice, marketplace, 2)
    start_session(alice, party)  # active: not history
    client.force_login(alice)
    body = client.get("/history/").content.decode()
    assert body.index(f"/history/{new.pk}/") < body.index(f"/history/{old.pk}/")
    assert "7 min" in body and body.count('class="history-row"') == 2


def test_an_empty_history_points_to_the_scene_in_progress(client, alice, party):
    """It said "Pick a scene to start one" to a learner in the middle of one (a newcomer's
    walk)."""
    client.force_login(alice)
    assert "Pick a scene" in client.get("/history/").content.decode()
    session = start_session(alice, party)
    body = client.get("/history/").content.decode()
    assert f'href="/sessions/{session.pk}/"' in body and "Party" in body
    assert "Pick a scene" not in body


def test_history_filters_by_scenario(client, alice, marketplace, party):
    _completed(alice, marketplace, 1)
    [party_session] = _completed(alice, party, 1)
    client.force_login(alice)
    body = client.get("/history/?scenario=party").content.decode()
    assert body.count('class="history-row"') == 1 and str(party_session.pk) in body


def test_an_unknown_scene_in_the_link_shows_the_whole_history_and_says_so(
    client, alice, marketplace
):
    """A bookmark to a scene renamed or removed since was a "page not found" (a newcomer's
    walk)."""
    [session] = _completed(alice, marketplace, 1)
    client.force_login(alice)
    response = client.get("/history/?scenario=opera")
    body = response.content.decode()
    assert response.status_code == 200 and str(session.pk) in body
    assert "That scene is not in your history" in body


def test_the_scene_filter_lists_no_draft_and_every_scene_played(client, alice, marketplace):
    """Staff's unpublished drafts were listed to learners (a newcomer's walk)."""
    import re

    from scenarios.models import Scenario

    Scenario.objects.create(code="draft", title="Draft scene", emoji="📝", is_active=False)
    _completed(alice, marketplace, 1)
    Scenario.objects.filter(pk=marketplace.pk).update(is_active=False)  # retired since
    client.force_login(alice)
    listed = re.findall(r'<option value="([^"]+)"', client.get("/history/").content.decode())
    assert "draft" not in listed and "marketplace" in listed
    assert client.get("/history/?scenario=draft").context["chosen"] is None


@pytest.mark.parametrize(
    "raw",
    [
        # An offset Python accepts and PostgreSQL refuses:
        "2026-01-01T00:00:00+16:00|6f0b1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e",
        "9999-12-31T23:59:59+00:00|6f0b1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e",
        "0001-01-01T00:00:00-15:00|not-a-uuid",
    ],
)
def test_a_crafted_cursor_is_400_never_500(client, alice, raw):
    import base64

    client.force_login(alice)
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    assert client.get(f"/history/?cursor={cursor}").status_code == 400


def test_a_tampered_cursor_is_400(client, alice):
    client.force_login(alice)
    assert client.get("/history/?cursor=bm9wZQ").status_code == 400
    assert client.get("/history/?cursor=%%%").status_code == 400


def test_older_pages_follow_the_keyset_without_gaps(client, alice, marketplace):
    sessions = _completed(alice, marketplace, PAGE_SIZE + 5)
    # Two sessions finishing at the same moment must both appear exactly once.
    with acting_as_staff():
        run_sql(
            "UPDATE sessions SET completed_at = %s WHERE id = %s",
            [datetime(2026, 1, 5, 12, tzinfo=UTC) + timedelta(hours=5), sessions[4].pk],
        )
    client.force_login(alice)
    seen = []
    url = "/history/"
    while url:
        body = client.get(url, headers={"HX-Request": "true"}).content.decode()
        seen += [s.pk for s in sessions if f"/history/{s.pk}/" in body]
        cursor = body.split("cursor=")[1].split('"')[0] if "cursor=" in body else None
        url = f"/history/?cursor={cursor}" if cursor else None
    assert sorted(seen) == sorted(s.pk for s in sessions) and len(seen) == len(set(seen))


def test_the_htmx_page_is_a_fragment(client, alice, marketplace):
    _completed(alice, marketplace, PAGE_SIZE + 1)
    client.force_login(alice)
    body = client.get("/history/").content.decode()
    cursor = body.split("cursor=")[1].split('"')[0]
    fragment = client.get(f"/history/?cursor={cursor}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.content.decode()
    assert fragment.content.decode().count('class="history-row"') == 1


@pytest.mark.parametrize("count", [3, 30])
def test_history_costs_the_same_queries_whatever_its_size(
    client, alice, marketplace, party, count, django_assert_num_queries
):
    _completed(alice, marketplace, count)
    client.force_login(alice)
    with django_assert_num_queries(10):
        client.get("/history/")
    with django_assert_num_queries(10):
        client.get("/history/?scenario=party")


def test_counts_in_the_history_are_said_in_the_singular_too(client, alice, marketplace):
    from tests.conftest import add_message, complete, start_session

    session = start_session(alice, marketplace)
    add_message(session, "scenario", "main")
    add_message(session, "helper", "helper")  # its greeting
    add_message(session, "user", "helper")
    complete(session)
    client.force_login(alice)
    body = client.get("/history/").content.decode()
    assert "1 role-play message, 1 with the helper" in body


def test_the_helpers_greeting_alone_is_no_chat_with_it(client, alice, marketplace):
    """ "1 with the helper" was said of a learner who asked nothing (a newcomer's recheck)."""
    from tests.conftest import add_message, complete, start_session

    session = start_session(alice, marketplace)
    add_message(session, "scenario", "main")
    add_message(session, "helper", "helper")  # its greeting
    complete(session)
    client.force_login(alice)
    body = client.get("/history/").content.decode()
    assert "1 role-play message\n" in body and "with the helper" not in body


def test_the_scene_filter_lists_the_scenes_as_the_picker_does(client, alice):
    """The goals' count made the query a grouped one, which Django leaves unordered: the
    filter listed the scenes in the database's hash order (a newcomer's walk)."""
    import re

    from scenarios.models import Scenario

    client.force_login(alice)
    body = client.get("/history/").content.decode()
    listed = re.findall(r'<option value="([^"]+)"', body)
    assert listed == list(Scenario.objects.values_list("code", flat=True))
    assert len(listed) > 2


def test_a_goal_added_later_is_not_one_of_the_scenes_finished_before(
    client, alice, bob, marketplace
):
    """Staff added a fifth goal: a finished scene's history said "of 5 goals" and its
    transcript listed the new one as not reached (a newcomer's walk). A scene going on has it."""
    from chat.conversations import load
    from scenarios.models import Goal

    [finished] = _completed(alice, marketplace, 1, start=datetime.now(UTC) - timedelta(hours=1))
    with acting_as_staff():
        goals = marketplace.goals.count()
        Goal.objects.create(
            scenario=marketplace, position=goals + 1, text="Pay by card", offline_pattern="karte"
        )
    going_on = start_session(bob, marketplace)
    client.force_login(alice)
    assert f"0 of {goals} goals" in client.get("/history/").content.decode()
    assert "Pay by card" not in client.get(f"/history/{finished.pk}/").content.decode()
    assert "Pay by card" not in client.get(f"/history/{finished.pk}/export.md").content.decode()
    assert len(load(alice.pk, finished.pk).goals) == goals
    assert [state.goal.text for state in load(bob.pk, going_on.pk).goals][-1] == "Pay by card"


def load_sessions(user):
    from scenarios.models import Session

    with acting_as_staff():
        return list(Session.objects.filter(user_id=user.pk))


def test_a_finished_scene_keeps_the_goal_texts_it_was_played_with(client, alice, bob, marketplace):
    """Staff reworded a goal: every learner's finished scene, its transcript and its Markdown
    listed the new goal, which they never had (a newcomer's walk). A scene going on has it."""
    from chat.conversations import load
    from chat.goals import record_reached
    from scenarios import lifecycle
    from tests.conftest import add_message

    session = start_session(alice, marketplace)
    said = add_message(session, "user", "main", "Ein Kilo Tomaten, bitte.")
    with acting_as_staff():
        first = marketplace.goals.order_by("position").first()
    with acting_as_learner(alice.pk):
        record_reached(session.pk, [first.pk], said.pk)
    lifecycle.complete_session(alice.pk, session.pk, main_messages=2, ended_by="model")
    played = first.text
    with acting_as_staff():
        first.text = "Ask when the market closes"
        first.save()
    going_on = start_session(bob, marketplace)
    client.force_login(alice)
    for page in (f"/history/{session.pk}/", f"/history/{session.pk}/export.md"):
        body = unescape(client.get(page).content.decode())
        assert played in body and "Ask when the market closes" not in body
    [kept, *_] = load(alice.pk, session.pk).goals
    assert (kept.goal.text, kept.reached) == (played, True)
    assert load(bob.pk, going_on.pk).goals[0].goal.text == "Ask when the market closes"
    # Learners cannot write what they played (their UPDATE grant names two columns), nor
    # start a session with goals of their own (their INSERT took any: the attacker's recheck).
    with acting_as_learner(alice.pk):
        run_sql(
            "INSERT INTO sessions (user_id, scenario_id, goals_played)"
            """ VALUES (%s, %s, '{"1": "Tell the model something"}')""",
            [alice.pk, marketplace.pk],
        )
    [mine] = [s for s in load_sessions(alice) if not s.is_completed]
    assert mine.goals_played is None
    with pytest.raises(DatabaseError, match="permission denied"), acting_as_learner(alice.pk):
        run_sql("UPDATE sessions SET goals_played = '{}' WHERE id = %s", [mine.pk])
