"""Changing the password on the account page: this login carries on, every other one ends."""

import pytest
from django.test import Client

from eventlog.models import Log
from lib.rls import acting_as_staff
from tests.conftest import PASSWORD

NEW = "Neues-Passwort-2026"


def change(client, old=PASSWORD, new1=NEW, new2=NEW):
    return client.post(
        "/account/password/",
        {"old_password": old, "new_password1": new1, "new_password2": new2},
    )


def test_a_new_password_keeps_this_login_and_ends_the_others(client, alice):
    client.force_login(alice)
    elsewhere = Client()
    elsewhere.force_login(alice)
    response = change(client)
    assert response.status_code == 302 and response.url == "/account/"
    page = client.get("/account/").content.decode()
    assert "Your password is changed" in page
    assert elsewhere.get("/account/").status_code == 302  # to log in
    alice.refresh_from_db()
    assert alice.check_password(NEW)
    with acting_as_staff():
        assert Log.objects.filter(event_type="password_changed", user_id=alice.pk).exists()


def test_a_wrong_current_password_changes_nothing(client, alice):
    client.force_login(alice)
    response = change(client, old="wrong")
    assert response.status_code == 200
    assert "not your password" in str(response.context["form"].errors["old_password"])
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_a_weak_or_mismatched_new_password_is_explained_where_it_was_typed(client, alice):
    client.force_login(alice)
    weak = change(client, new1="123", new2="123").context["form"]
    assert "This password is too short" in str(weak.errors["new_password1"])
    mismatched = change(client, new2=NEW + "x").context["form"]
    assert "didn’t match" in str(mismatched.errors["new_password2"])
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_guessing_the_current_password_is_throttled_as_logins_are(client, alice):
    client.force_login(alice)
    for _ in range(10):
        change(client, old="wrong")
    response = change(client)
    assert "Too many wrong passwords" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_the_page_asks_for_a_login(client, db):
    response = client.get("/account/password/")
    assert response.status_code == 302 and "/login/" in response.url


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_change_waits_for_one_under_way_and_checks_the_password_it_left(alice):
    """Two tabs changing it at once both succeeded, and which login held was a race (the
    attacker's recheck): the second now waits, then finds the current password changed."""
    import threading

    from django.contrib.auth.hashers import make_password

    from tests.conftest import raw_connection

    client = Client()
    client.force_login(alice)
    with raw_connection() as other_tab:  # a change under way: the row locked, a new hash
        other_tab.execute(
            "UPDATE accounts_user SET password = %s WHERE id = %s",
            [make_password("chosen in the other tab"), alice.pk],
        )
        answer = {}
        this_tab = threading.Thread(target=lambda: answer.update(response=change(client)))
        this_tab.start()
        with raw_connection() as watcher:
            watcher.autocommit = True
            waiting = (
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
            while watcher.execute(waiting).fetchone()[0] < 1:
                pass
        other_tab.commit()
    this_tab.join(10)
    assert "not your password" in answer["response"].content.decode()
    alice.refresh_from_db()
    assert alice.check_password("chosen in the other tab")
