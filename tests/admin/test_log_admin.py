"""Log admin: read-only, filters, search by email or exact id, pretty-printed metadata."""

from django.urls import reverse

from eventlog.events import log_event
from eventlog.models import Log
from lib.rls import acting_as_staff
from tests.conftest import start_session

CHANGELIST = reverse("admin:eventlog_log_changelist")


def _latest() -> Log:
    with acting_as_staff():
        return Log.objects.latest("created_at")


def _listed(response) -> list[str]:
    return [log.event_type for log in response.context["cl"].result_list]


def test_metadata_is_pretty_printed(staff_client, alice):
    log_event("user_logout", user_id=alice.pk, seconds=3, reason="<idle>")
    body = staff_client.get(
        reverse("admin:eventlog_log_change", args=[_latest().pk])
    ).content.decode()
    assert (
        "<pre>{\n  &quot;reason&quot;: &quot;&lt;idle&gt;&quot;,\n  &quot;seconds&quot;: 3\n}</pre>"
        in body
    )


def test_filters_by_level_and_event_type(staff_client, alice):
    log_event("user_logout", user_id=alice.pk)
    log_event("database_error", level="error", function="x")
    assert _listed(staff_client.get(CHANGELIST, {"level__exact": "error"})) == ["database_error"]
    assert _listed(staff_client.get(CHANGELIST, {"event_type__exact": "user_logout"})) == [
        "user_logout"
    ]


def test_search_matches_exact_user_or_session_ids(staff_client, alice, bob, marketplace):
    session = start_session(alice, marketplace)
    log_event("scenario_started", user_id=alice.pk, session_id=session.pk)
    log_event("user_logout", user_id=bob.pk)
    assert _listed(staff_client.get(CHANGELIST, {"q": str(session.pk)})) == ["scenario_started"]
    assert _listed(staff_client.get(CHANGELIST, {"q": str(bob.pk)})) == ["user_logout"]
    assert _listed(staff_client.get(CHANGELIST, {"q": str(bob.pk)[:8]})) == []  # exact only


def test_search_by_a_learners_email_in_any_case(staff_client, alice, bob):
    log_event("user_logout", user_id=alice.pk)
    log_event("user_login_success", user_id=bob.pk)
    assert _listed(staff_client.get(CHANGELIST, {"q": alice.email.upper()})) == ["user_logout"]
    assert _listed(staff_client.get(CHANGELIST, {"q": "nobody@example.com"})) == []


def test_a_deleted_sessions_events_are_found_by_its_id(staff_client, alice, marketplace):
    session = start_session(alice, marketplace)
    session_id = session.pk
    log_event("scenario_started", user_id=alice.pk, session_id=session_id)
    with acting_as_staff():
        session.delete()
    log_event("scenario_abandoned", user_id=alice.pk, session_id=session_id)
    response = staff_client.get(CHANGELIST, {"q": str(session_id)})
    assert _listed(response) == ["scenario_abandoned", "scenario_started"]
    assert f"{session_id} (deleted)" in response.content.decode()


def test_logs_are_read_only(staff_client, alice):
    log_event("user_logout", user_id=alice.pk)
    log = _latest()
    assert staff_client.get(reverse("admin:eventlog_log_add")).status_code == 403
    change = reverse("admin:eventlog_log_change", args=[log.pk])
    assert staff_client.post(change, {"level": "error"}).status_code == 403
    delete = reverse("admin:eventlog_log_delete", args=[log.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert _latest().level == "info"


def test_changelist_queries_do_not_grow_with_rows(
    staff_client, alice, django_assert_max_num_queries
):
    for i in range(50):
        log_event("user_logout", user_id=alice.pk, n=i)
    with django_assert_max_num_queries(12):
        assert staff_client.get(CHANGELIST).status_code == 200


def test_a_long_list_is_counted_only_up_to_its_cap(staff_client, alice, monkeypatch):
    """Counting every row of a huge table on each page view took seconds (bench/scale.py)."""
    from lib.staff_admin import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    for _ in range(5):
        log_event("user_logout", user_id=alice.pk)
    response = staff_client.get(CHANGELIST, {"event_type__exact": "user_logout"})
    assert response.context["cl"].result_count == 3
    assert "more than 3 logs: filter to narrow them down" in response.content.decode()
    assert len(_listed(response)) == 5  # the page itself still shows every row it holds

    response = staff_client.get(CHANGELIST, {"level__exact": "error"})  # under the cap
    assert "0 logs" in response.content.decode()
    assert "more than" not in response.content.decode()
    response = staff_client.get(CHANGELIST, {"q": str(alice.pk)})  # a search: counted exactly
    assert response.context["cl"].result_count == 5
    assert "5 logs" in response.content.decode()
