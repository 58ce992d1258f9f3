from django.test import Client

from chat.models import Message
from lib.rls import acting_as_staff
from scenarios.models import Scenario, Session
from tests.conftest import add_message, complete, start_session
from tests.journey_helpers import events_for, set_week


def _sessions(user):
    """The learner's active sessions (completed ones are their week)."""
    with acting_as_staff():
        return list(Session.objects.of(user.pk).active())


def test_starting_opens_the_session_page_with_both_openings(client, alice, marketplace):
    client.force_login(alice)
    response = client.post("/scenarios/marketplace/start/")
    [session] = _sessions(alice)
    assert response.url == f"/sessions/{session.pk}/"
    body = client.get(response.url).content.decode()
    assert "Frau Hoffmann" in body and "frisches Obst" in body
    assert "session_restored" not in events_for(alice)  # the first visit is not a return


def test_the_fourth_start_is_refused_with_the_reset_time(client, alice, marketplace):
    set_week(alice, completed=3)
    client.force_login(alice)
    response = client.post("/scenarios/marketplace/start/", follow=True)
    body = response.content.decode()
    assert body.count("this week's 3 conversations") == 1 and "UTC" in body  # said once
    assert body.count("disabled") == Scenario.objects.filter(is_active=True).count()  # each Start
    # Why nothing started (from a page drawn before, say), and no level to choose (a
    # newcomer's walk).
    assert "Marketplace did not start: you&#x27;ve had this week&#x27;s conversations." in body
    assert 'name="level"' not in body
    assert _sessions(alice) == []
    assert {"rate_limit_checked", "weekly_limit_reached"} <= events_for(alice)
    assert "rate_limit_exceeded" not in events_for(alice)  # that is for floods


def test_two_completions_leave_one_start(client, alice, marketplace):
    set_week(alice, completed=2)
    client.force_login(alice)
    client.post("/scenarios/marketplace/start/")
    [session] = _sessions(alice)
    complete(session)
    assert "You've had this week's 3 conversations" in client.get("/").content.decode()


def test_starting_the_scene_one_is_in_asks_to_start_it_over(client, alice, marketplace):
    """ "Starting Marketplace ends your Marketplace conversation" and "End it and start
    Marketplace" read oddly (a newcomer's walk)."""
    first = start_session(alice, marketplace)
    client.force_login(alice)
    page = client.get(client.post("/scenarios/marketplace/start/").url).content.decode()
    assert "You're already in Marketplace" in page and "still in" not in page
    assert "Starting 🛒 Marketplace over ends this conversation and deletes its messages" in page
    assert "Start Marketplace over</button>" in page and "End it and start" not in page
    restarted = client.post("/scenarios/marketplace/start/", {"replacing": str(first.pk)})
    [session] = _sessions(alice)
    assert session.pk != first.pk and restarted.url == f"/sessions/{session.pk}/"


def test_a_second_start_asks_first_then_replaces(client, alice, marketplace, party):
    first = start_session(alice, marketplace)
    client.force_login(alice)
    response = client.post("/scenarios/party/start/", {"level": "A2"})
    # Asked on a page of its own, which a reload opens again (as the POST's answer, a reload
    # asked to send the form again: a newcomer's walk).
    assert response.status_code == 302 and response.url == "/scenarios/party/start/?level=A2"
    response = client.get(response.url)
    assert "still in Marketplace" in response.content.decode()
    assert 'name="level" value="A2"' in response.content.decode()
    # What goes and what stays (kept words were not mentioned: a newcomer's walk).
    assert "Words you kept from it stay in your deck." in response.content.decode()
    assert _sessions(alice) == [first]
    response = client.post("/scenarios/party/start/", {"replacing": str(first.pk)})
    [second] = _sessions(alice)
    assert second.pk != first.pk and response.url == f"/sessions/{second.pk}/"
    assert "scenario_abandoned" in events_for(alice)
    with acting_as_staff():
        assert not Message.objects.filter(session_id=first.pk).exists()


def test_a_confirmation_left_open_ends_only_the_session_it_named(client, alice, marketplace, party):
    """Two tabs asked about Marketplace; one ended it and started Party, then the other's old
    "End it and start" deleted Party and its messages (found by the attacker's replay)."""
    first = start_session(alice, marketplace)
    client.force_login(alice)
    asked = client.post("/scenarios/kebab/start/", follow=True).content.decode()
    assert f'name="replacing" value="{first.pk}"' in asked
    client.post("/scenarios/party/start/", {"replacing": str(first.pk)})  # the other tab
    [second] = _sessions(alice)
    add_message(second, "user", "main", "Hallo!")

    stale = client.post("/scenarios/kebab/start/", {"replacing": str(first.pk)}, follow=True)

    assert stale.status_code == 200 and "still in Party" in stale.content.decode()
    assert _sessions(alice) == [second]
    with acting_as_staff():
        assert Message.objects.filter(session_id=second.pk, content="Hallo!").exists()
    for unreadable in ("yes", "", "not-an-id"):  # nothing the learner agreed to: asked again
        response = client.post("/scenarios/kebab/start/", {"replacing": unreadable}, follow=True)
        assert response.status_code == 200 and _sessions(alice) == [second]


def test_an_unknown_scenario_is_404_and_creates_nothing(client, alice):
    client.force_login(alice)
    assert client.post("/scenarios/opera/start/").status_code == 404
    assert _sessions(alice) == []


def test_start_needs_post_login_and_csrf(client, alice, marketplace):
    assert client.post("/scenarios/marketplace/start/").url.startswith("/login/")
    client.force_login(alice)
    assert client.get("/scenarios/marketplace/start/").url == "/"  # starts nothing
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post("/scenarios/marketplace/start/").status_code == 403
    assert _sessions(alice) == []


def test_the_question_to_end_the_current_scene_is_asked_again_when_opened_again(
    client, alice, marketplace, party
):
    """Its page is this address's answer to a POST: Back, a reload or a copied link opened it
    as a blank 405 (a newcomer's walk). Opened again it asks again, and starts nothing."""
    first = start_session(alice, marketplace)
    client.force_login(alice)
    for method in (client.get, client.head):
        response = method("/scenarios/party/start/")
        assert response.status_code == 200
    body = client.get("/scenarios/party/start/").content.decode()
    assert "still in Marketplace" in body and f'name="replacing" value="{first.pk}"' in body
    assert _sessions(alice) == [first]
    assert client.get("/scenarios/opera/start/").status_code == 404
