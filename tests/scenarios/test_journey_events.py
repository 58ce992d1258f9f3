"""Every learner-journey event is logged, with ids and counts only: no content, no email."""

from datetime import UTC, datetime, timedelta

from lib.rls import acting_as_staff
from scenarios.models import Scenario, Session
from tests.conftest import PASSWORD, add_message, complete, staff_get
from tests.journey_helpers import all_log_text, set_week


def test_a_whole_journey_logs_every_event_without_content_or_email(client, alice, marketplace):
    client.post("/login/", {"email": alice.email, "password": "wrong"})
    client.post("/login/", {"email": alice.email, "password": PASSWORD})
    set_week(alice, completed=0, resets_at=datetime.now(UTC) - timedelta(minutes=1))
    first = client.post("/scenarios/marketplace/start/").url
    client.post("/scenarios/party/start/", {"replacing": first.split("/")[2]})
    with acting_as_staff():
        [session] = Session.objects.filter(user_id=alice.pk)
    add_message(session, "user", "main", "Geheimer Satz")
    client.get(f"/sessions/{session.pk}/")  # right after starting: not a restore
    client.get(f"/sessions/{session.pk}/")  # coming back
    complete(session)
    set_week(alice, completed=3)
    client.post("/scenarios/kebab/start/")
    client.post("/logout/")
    client.post(
        "/signup/",
        {"email": "dora@example.com", "password1": "Lerne-42-x!", "password2": "Lerne-42-x!"},
    )
    client.post("/account/delete/", {"password": "Lerne-42-x!", "confirm": "on"})

    text = all_log_text()
    for event in (
        "user_login_failed",
        "user_login_success",
        "weekly_limit_reset",
        "rate_limit_checked",
        "session_created",
        "scenario_started",
        "scenario_abandoned",
        "session_restored",
        "weekly_limit_reached",
        "user_logout",
        "user_registered",
        "account_deleted",
    ):
        assert f"'{event}'" in text, event
    assert "@example.com" not in text and "Geheimer" not in text and first
    for scenario in Scenario.objects.all():
        assert scenario.initial_message_main not in text
    assert staff_get(Session, pk=session.pk).is_completed
