"""Session admin: filters, search, counts; the transcript is read-only and in order."""

from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import GermanLevel, User
from chat.admin import SessionAdmin
from chat.models import Message
from lib.rls import acting_as_staff
from scenarios.models import Session
from tests.conftest import add_message, complete, run_sql, start_session

CHANGELIST = reverse("admin:scenarios_session_changelist")


def _listed(response) -> set:
    return {session.pk for session in response.context["cl"].result_list}


def test_search_by_learner_email_or_session_id(staff_client, alice, bob, marketplace):
    alices = start_session(alice, marketplace)
    bobs = start_session(bob, marketplace)
    assert _listed(staff_client.get(CHANGELIST, {"q": "alice@"})) == {alices.pk}
    assert _listed(staff_client.get(CHANGELIST, {"q": str(bobs.pk)})) == {bobs.pk}
    assert _listed(staff_client.get(CHANGELIST, {"q": str(alice.pk)})) == {alices.pk}


def test_filters_by_scenario_completion_and_learner(staff_client, alice, bob, marketplace, party):
    done = complete(start_session(alice, marketplace))
    active = start_session(bob, party)
    assert _listed(staff_client.get(CHANGELIST, {"scenario__id__exact": party.pk})) == {active.pk}
    assert _listed(staff_client.get(CHANGELIST, {"is_completed__exact": "1"})) == {done.pk}
    assert _listed(staff_client.get(CHANGELIST, {"user": alice.pk})) == {done.pk}
    today = staff_client.get(CHANGELIST, {"started_at__gte": "2000-01-01T00:00:00+00:00"})
    assert _listed(today) == {done.pk, active.pk}


def test_shows_message_counts_and_duration(staff_client, alice, marketplace):
    session = start_session(alice, marketplace)
    add_message(session, "scenario", "main")
    add_message(session, "helper", "helper")  # the greeting, which the history does not count
    add_message(session, "user", "helper")
    with acting_as_staff():
        run_sql(
            "UPDATE sessions SET started_at = now() - interval '754 seconds' WHERE id = %s",
            [session.pk],
        )
    complete(session)
    body = staff_client.get(CHANGELIST).content.decode()
    assert '<td class="field-message_count">1 + 1</td>' in body  # as the learner's history
    page = staff_client.get(reverse("admin:scenarios_session_change", args=[session.pk]))
    assert '<div class="readonly">1 + 1</div>' in page.content.decode()  # it said "helper: 2"
    assert "12 min 34 s" in body or "12 min 35 s" in body


@pytest.mark.parametrize(
    ("seconds", "shown"), [(10, "10 s"), (60, "1 min 0 s"), (3725, "1 h 2 min"), (None, "-")]
)
def test_a_duration_says_its_units(seconds, shown):
    """ "0:10" read as ten minutes; it was ten seconds (a newcomer's walk)."""
    assert SessionAdmin.duration(None, Session(duration_seconds=seconds)) == shown


def test_the_transcript_is_inline_read_only_and_in_order(staff_client, alice, marketplace):
    session = start_session(alice, marketplace)
    first = add_message(session, "scenario", "main", "Guten Morgen!")
    second = add_message(session, "user", "main", "Hallo, ich hätte gern Äpfel.")
    earliest = add_message(session, "scenario", "main", "Willkommen am Markt.")
    # Messages are immutable; for this test only, give `earliest` an earlier sent_at and the
    # other two the same one, so the id has to break their tie.
    run_sql("ALTER TABLE messages DISABLE TRIGGER USER")
    with acting_as_staff():
        run_sql(
            "UPDATE messages SET sent_at = now() - interval '1 minute' WHERE id = %s",
            [earliest.pk],
        )
        run_sql(
            "UPDATE messages SET sent_at = (SELECT sent_at FROM messages WHERE id = %s)"
            " WHERE id = %s",
            [first.pk, second.pk],
        )
    run_sql("ALTER TABLE messages ENABLE TRIGGER USER")
    response = staff_client.get(reverse("admin:scenarios_session_change", args=[session.pk]))
    body = response.content.decode()
    (inline,) = response.context["inline_admin_formsets"]
    assert not inline.has_add_permission and not inline.has_change_permission
    assert not inline.has_delete_permission
    expected = [earliest, *sorted([first, second], key=lambda m: m.id)]
    positions = [body.index(m.content) for m in expected]
    assert positions == sorted(positions)
    assert "<textarea" not in body  # no editable inputs


def test_sessions_and_messages_cannot_be_added_or_changed(staff_client, alice, marketplace):
    session = start_session(alice, marketplace)
    message = add_message(session, "user", "main", "Original")
    change_url = reverse("admin:scenarios_session_change", args=[session.pk])
    response = staff_client.post(
        change_url,
        {
            "messages-TOTAL_FORMS": "2",
            "messages-INITIAL_FORMS": "1",
            "messages-0-id": str(message.pk),
            "messages-0-session": str(session.pk),
            "messages-0-content": "Edited",
            "messages-1-session": str(session.pk),
            "messages-1-content": "Injected",
            "messages-1-role": "user",
            "messages-1-chat_type": "main",
        },
    )
    assert response.status_code == 403
    assert staff_client.get("/admin/scenarios/session/add/").status_code == 403
    for url in ("/admin/chat/message/", "/admin/chat/message/add/"):
        assert staff_client.get(url).status_code == 404
    with acting_as_staff():
        assert list(Message.objects.filter(session=session).values_list("content", flat=True)) == [
            "Original"
        ]


def test_changelist_queries_do_not_grow_with_rows(
    staff_client, marketplace, django_assert_max_num_queries
):
    for i in range(30):
        learner = User.objects.create_user(f"learner{i}@example.com")
        add_message(start_session(learner, marketplace), "user", "main")
    with django_assert_max_num_queries(13):
        response = staff_client.get(CHANGELIST)
    assert response.status_code == 200 and "learner29@example.com" in response.content.decode()


def test_started_date_filter_excludes_older_sessions(staff_client, alice, bob, marketplace):
    old = start_session(alice, marketplace)
    new = start_session(bob, marketplace)
    with acting_as_staff():
        run_sql(
            "UPDATE sessions SET started_at = now() - %s, last_activity_at = now() - %s"
            " WHERE id = %s",
            [timedelta(days=60), timedelta(days=60), old.pk],
        )
    assert _listed(staff_client.get(CHANGELIST, {"started_at__gte": _days_ago(7)})) == {new.pk}


def _days_ago(days: int) -> str:
    return (timezone.now() - timedelta(days=days)).isoformat()


def test_a_sessions_page_says_its_level_goals_and_report_and_who_wrote_each_line(
    staff_client, alice, party
):
    """Each line was headed "scenario/main 79caf150-…", and the page gave neither the level, the
    goals reached nor the report (a newcomer's walk, as staff)."""
    from chat.models import ReachedGoal, SceneReport

    session = start_session(alice, party)
    add_message(session, "scenario", "main", "Hallo! Schön, dass du da bist!")
    said = add_message(session, "user", "main", "Ich heiße Cleo.")
    first, second, *_ = party.goals.order_by("position")
    complete(session)
    with acting_as_staff():
        ReachedGoal.objects.create(session=session, goal=first, message=said)
        words = [{"german": "die Einladung", "gloss": "invitation"}]
        SceneReport.objects.create(
            session=session, status="ready", kind="offline", content={"words": words}
        )
    body = staff_client.get(reverse("admin:scenarios_session_change", args=[session.pk]))
    body = unescape(body.content.decode())
    assert f"<li>✓ {first.text}</li>" in body and f"<li>✗ not reached: {second.text}</li>" in body
    assert "offline, 1 word to keep" in body
    level = body[body.index("field-level") :].split('<div class="readonly">', 1)[1]
    assert level.startswith(f"{GermanLevel(session.level).label}</div>")
    assert "Character, main chat" in body and "Learner, main chat" in body
    assert "scenario/main" not in body


def test_a_scene_still_being_played_has_goals_not_yet_reached(staff_client, alice, party):
    """ "✗ not reached" read as failed, of a scene in progress (a newcomer's recheck)."""
    session = start_session(alice, party)
    body = staff_client.get(reverse("admin:scenarios_session_change", args=[session.pk]))
    body = unescape(body.content.decode())
    first = party.goals.order_by("position").first()
    assert f"<li>○ not yet: {first.text}</li>" in body and "not reached" not in body
