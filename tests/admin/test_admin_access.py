"""Every admin page loads for staff and is refused to learners and anonymous visitors."""

import pytest
from django.urls import reverse

from eventlog.events import log_event
from eventlog.models import Log
from lib.rls import acting_as_staff
from tests.conftest import add_message, start_session


@pytest.fixture
def pages(alice, marketplace, party) -> list[str]:
    session = start_session(alice, marketplace)
    add_message(session, "scenario", "main")
    log_event("user_logout", user_id=alice.pk, session_id=session.pk, seconds=3)
    with acting_as_staff():
        log = Log.objects.latest("created_at")
    return [
        reverse("admin:index"),
        reverse("admin:scenarios_scenario_changelist"),
        reverse("admin:scenarios_scenario_add"),
        reverse("admin:scenarios_scenario_change", args=[marketplace.pk]),
        reverse("admin:scenarios_scenario_delete", args=[party.pk]),
        reverse("admin:scenarios_scenario_deactivate", args=[marketplace.pk]),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_add"),
        reverse("admin:accounts_user_change", args=[alice.pk]),
        reverse("admin:accounts_user_delete", args=[alice.pk]),
        reverse("admin:scenarios_session_changelist"),
        reverse("admin:scenarios_session_change", args=[session.pk]),
        reverse("admin:scenarios_session_delete", args=[session.pk]),
        reverse("admin:eventlog_log_changelist"),
        reverse("admin:eventlog_log_change", args=[log.pk]),
    ]


def test_every_admin_page_loads_for_staff(staff_client, pages):
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url


def test_learners_are_told_the_pages_are_for_staff(client, bob, pages):
    """Followed to the end: the login page sent a logged-in learner back to the admin, which
    sent them to the login page, round and round."""
    client.force_login(bob)
    for url in pages:
        response = client.get(url, follow=True)
        assert response.status_code == 403, url
        assert "not a staff account" in response.content.decode(), url
        assert len(response.redirect_chain) <= 1, url


def test_anonymous_visitors_are_sent_to_the_login_page(client, pages):
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("admin:login")), url


def test_the_admin_has_an_icon_and_favicon_ico_finds_it(staff_client):
    body = staff_client.get("/admin/").content.decode()
    assert 'rel="icon"' in body and "favicon.svg" in body
    response = staff_client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


def test_a_permission_denied_is_logged_in_one_line():
    """Each refused admin request of a staff member wrote a 60-line traceback: anyone with a
    staff login could fill the log (the attacker's recheck)."""
    import logging
    import sys

    from django.core.exceptions import PermissionDenied

    from lib.log_filters import SecurityWithoutTraceback

    def record_of(error: Exception) -> logging.LogRecord:
        try:
            raise error
        except Exception:
            return logging.LogRecord(
                "django.request", logging.WARNING, __file__, 1, "Forbidden", (), sys.exc_info()
            )

    refused, failed = record_of(PermissionDenied()), record_of(ValueError())
    for record in (refused, failed):
        assert SecurityWithoutTraceback().filter(record)
    assert refused.exc_info is None and failed.exc_info is not None  # ours keep theirs
