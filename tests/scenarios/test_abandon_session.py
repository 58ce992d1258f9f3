import pytest

from lib.rls import acting_as_staff
from scenarios import lifecycle
from scenarios.models import Session
from tests.conftest import complete
from tests.journey_helpers import events_for


def test_abandoning_deletes_the_session_and_logs_it(client, alice, party):
    session = lifecycle.start_session(alice.pk, party)
    client.force_login(alice)
    response = client.post(f"/sessions/{session.pk}/abandon/")
    assert response.status_code == 302
    with acting_as_staff():
        assert not Session.objects.filter(pk=session.pk).exists()
    assert "scenario_abandoned" in events_for(alice)
    # Confirmed again (twice, or in a second tab): said so, not "We couldn't find that page".
    for ask in (client.post, client.get):
        again = ask(f"/sessions/{session.pk}/abandon/", follow=True)
        assert again.redirect_chain == [("/", 302)]
        assert "That conversation has been ended and deleted." in again.content.decode()


def test_a_deleted_conversations_address_says_it_was_deleted(client, alice, bob, party):
    """Reloaded or bookmarked, it said "We couldn't find that page" (a newcomer's walk); to
    anyone else it is not found, as any other address."""
    session = lifecycle.start_session(alice.pk, party)
    lifecycle.start_session(alice.pk, party, replacing=session.pk)  # "End it and start …"
    client.force_login(alice)
    # Its history address and export too (typed or bookmarked: no page links them).
    for address in ("/sessions/{}/", "/history/{}/", "/history/{}/export.md"):
        page = client.get(address.format(session.pk))
        assert page.status_code == 410, address
        assert "This conversation was ended and deleted" in page.content.decode()
    client.force_login(bob)
    for address in ("/sessions/{}/", "/sessions/{}/abandon/", "/history/{}/"):
        assert client.get(address.format(session.pk)).status_code == 404
    assert client.post(f"/sessions/{session.pk}/abandon/").status_code == 404


def test_the_learner_is_asked_before_anything_is_deleted(client, alice, bob, party):
    session = lifecycle.start_session(alice.pk, party)
    client.force_login(alice)
    page = client.get(f"/sessions/{session.pk}/abandon/")
    assert page.status_code == 200
    assert "Its messages are deleted for good" in page.content.decode()
    with acting_as_staff():
        assert Session.objects.filter(pk=session.pk).exists()
    assert f'href="/sessions/{session.pk}/abandon/"' in client.get("/").content.decode()

    client.force_login(bob)  # another learner's session is not found
    assert client.get(f"/sessions/{session.pk}/abandon/").status_code == 404


def test_a_scene_can_be_ended_from_its_chat_page(client, alice, party):
    """Only the picker offered to end a scene (a newcomer's walk)."""
    session = lifecycle.start_session(alice.pk, party)
    client.force_login(alice)
    end = f'href="/sessions/{session.pk}/abandon/"'
    assert end in client.get(f"/sessions/{session.pk}/").content.decode()
    complete(session)
    assert end not in client.get(f"/sessions/{session.pk}/").content.decode()
    # Asked from a page drawn before the scene ended: to the finished scene, not a 404.
    for ask in (client.get, client.post):  # and confirmed from that page: the same
        response = ask(f"/sessions/{session.pk}/abandon/", follow=True)
        assert response.redirect_chain == [(f"/sessions/{session.pk}/", 302)]
        assert "That scene is finished" in response.content.decode()
    with acting_as_staff():
        assert Session.objects.filter(pk=session.pk).exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_deletion_confirmed_twice_at_once_is_logged_once(alice, party):
    """Six confirmations at once each read the row, waited on the first one's delete, deleted
    nothing and logged the deletion all the same: six `scenario_abandoned` (the attacker's
    recheck)."""
    import threading

    from django.db import connection

    from eventlog.models import Log
    from tests.conftest import raw_connection, until_a_lock_is_awaited

    session = lifecycle.start_session(alice.pk, party)
    outcome = []

    def abandon():
        try:
            outcome.append(lifecycle.abandon_session(alice.pk, session.pk))
        finally:
            connection.close()

    with raw_connection() as first, raw_connection() as watcher:  # as the owner
        watcher.autocommit = True
        first.execute("SET ROLE maraum_staff")  # the owner sees no session (forced RLS)
        deleted = first.execute("DELETE FROM sessions WHERE id = %s", [session.pk])
        assert deleted.rowcount == 1  # not committed yet
        second = threading.Thread(target=abandon)
        second.start()
        until_a_lock_is_awaited(watcher)  # the second waits on the first one's delete
        first.commit()
        second.join(15)
    assert outcome == [False]
    with acting_as_staff():
        assert not Log.objects.filter(event_type="scenario_abandoned").exists()
