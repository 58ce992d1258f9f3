import pytest
from django.test import Client

from accounts.deletion import delete_account
from accounts.models import Profile, User
from chat import conversations
from chat.models import Message
from eventlog.models import Log
from lib.rls import acting_as_staff
from scenarios import lifecycle
from scenarios.models import Session
from tests.conftest import PASSWORD, complete, run_sql, staff_get
from tests.journey_helpers import set_week
from tests.ops.helpers import run_command


def test_deleting_the_account_removes_everything_of_the_learner(client, alice, bob, marketplace):
    complete(conversations.start(alice.pk, marketplace))
    conversations.start(alice.pk, marketplace)
    conversations.start(bob.pk, marketplace)
    client.force_login(alice)
    response = client.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    with acting_as_staff():
        assert not User.objects.filter(pk=alice.pk).exists()
        assert not Profile.objects.filter(pk=alice.pk).exists()
        assert not Session.objects.filter(user_id=alice.pk).exists()
        assert not Message.objects.filter(user_id=alice.pk).exists()
        assert Session.objects.filter(user_id=bob.pk).count() == 1
        deleted = Log.objects.get(event_type="account_deleted")
    assert deleted.metadata["sessions_deleted"] == 2
    assert deleted.metadata["messages_deleted"] == 4
    assert "alice@" not in repr(deleted.metadata)


def test_a_wrong_password_deletes_nothing(client, alice):
    client.force_login(alice)
    response = client.post("/account/delete/", {"password": "wrong", "confirm": "on"})
    assert response.status_code == 200
    assert "not your password" in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()


def test_without_the_confirmation_nothing_is_deleted(client, alice):
    client.force_login(alice)
    response = client.post("/account/delete/", {"password": PASSWORD})
    assert response.status_code == 200
    assert User.objects.filter(pk=alice.pk).exists()


def test_the_account_page_shows_the_learner(client, alice, django_assert_max_num_queries):
    client.force_login(alice)
    with django_assert_max_num_queries(9):
        response = client.get("/account/")
    assert alice.email in response.content.decode()


def test_a_borrowed_login_cannot_guess_the_password_here_faster_than_at_the_login(client, alice):
    client.force_login(alice)
    for _ in range(10):
        client.post("/account/delete/", {"password": "wrong", "confirm": "on"})
    response = client.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    assert "Too many wrong passwords" in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()


def test_the_unticked_box_says_what_to_do_and_password_managers_know_the_account(client, alice):
    client.force_login(alice)
    page = client.post("/account/delete/", {"password": PASSWORD}).content.decode()
    assert "Tick this box to say you understand." in page
    assert f'autocomplete="username" value="{alice.email}" hidden' in page


def test_the_unticked_box_takes_the_focus(client, alice):
    import re

    client.force_login(alice)
    page = client.post("/account/delete/", {"password": PASSWORD}).content.decode()
    focused = re.findall(r"<input[^>]*autofocus[^>]*>", page)
    assert len(focused) == 1 and 'name="confirm"' in focused[0]


def _sign_up_again(client, email: str) -> User:
    client.logout()
    strong = "Lerne-jeden-Tag-42"
    response = client.post("/signup/", {"email": email, "password1": strong, "password2": strong})
    assert response.status_code == 302
    return User.objects.get(email=email)


def test_one_scene_carried_is_said_in_the_singular(client, alice):
    """ "1 of this week's were finished" (a newcomer's walk)."""
    set_week(alice, completed=1)
    client.force_login(alice)
    client.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    _sign_up_again(client, "alice@example.com")
    picker = " ".join(client.get("/").content.decode().split())
    assert "One of this week's was finished with the account you deleted: it counts" in picker


def test_signing_up_again_with_the_email_does_not_give_the_week_back(client, alice, marketplace):
    """Deleting the account and signing up again with the same email gave the week's three
    scenes back (the attacker's replay)."""
    set_week(alice, completed=3)
    client.force_login(alice)
    client.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    again = _sign_up_again(client, "Alice@Example.COM")
    allowance = lifecycle.weekly_allowance(again.pk)
    assert (allowance.completed, allowance.reached) == (3, True)
    picker = client.get("/").content.decode()
    assert "this week's 3 conversations" in picker
    assert "3 of this week's were finished with the account you deleted" in picker
    with pytest.raises(lifecycle.WeeklyLimitReached):
        lifecycle.start_session(again.pk, marketplace)
    assert "alice@" not in repr(run_sql("SELECT * FROM deleted_accounts_weeks")).lower()


def test_a_carried_week_counts_with_the_new_accounts_scenes(client, alice, marketplace):
    complete(lifecycle.start_session(alice.pk, marketplace))
    delete_account(alice)
    again = User.objects.create_user("alice@example.com", PASSWORD)
    assert lifecycle.weekly_allowance(again.pk).completed == 1
    complete(lifecycle.start_session(again.pk, marketplace))
    assert lifecycle.weekly_allowance(again.pk).completed == 2
    assert lifecycle.weekly_allowance(again.pk).carried == 1
    assert staff_get(Profile, pk=again.pk).completed_scenario_count == 1  # the history's own
    delete_account(again)  # deleted twice in a week: both accounts' scenes carry over
    third = User.objects.create_user("alice@example.com", PASSWORD)
    assert lifecycle.weekly_allowance(third.pk).completed == 2


def test_a_deleted_accounts_week_counts_only_in_that_week(alice, bob, marketplace):
    set_week(alice, completed=2)
    delete_account(alice)
    # The week the deleted account's scenes were in has ended (as the owner: no role of the
    # app reads or writes the table but through its functions).
    run_sql("UPDATE deleted_accounts_weeks SET week_start = week_start - interval '7 days'")
    again = User.objects.create_user("alice@example.com", PASSWORD)
    assert lifecycle.weekly_allowance(again.pk).completed == 0
    assert lifecycle.weekly_allowance(bob.pk).completed == 0
    assert run_command("reset_weekly_limits")
    assert run_sql("SELECT count(*) FROM deleted_accounts_weeks") == [(0,)]


def test_an_account_staff_delete_keeps_its_week_too(alice, marketplace):
    set_week(alice, completed=1)
    with acting_as_staff():
        User.objects.filter(pk=alice.pk).delete()
    again = User.objects.create_user("alice@example.com", PASSWORD)
    assert lifecycle.weekly_allowance(again.pk).completed == 1


def test_an_account_with_no_scene_this_week_leaves_nothing(alice):
    set_week(alice, completed=0)
    delete_account(alice)
    assert run_sql("SELECT count(*) FROM deleted_accounts_weeks") == [(0,)]


def test_the_delete_page_says_the_weeks_scenes_still_count(client, alice):
    """The page said everything goes, and a learner signing up again found the week used up
    with no word why (the newcomer's walk)."""
    client.force_login(alice)
    page = client.get("/account/delete/").content.decode()
    assert "still count towards this week's three if you sign up again" in page


def test_the_page_links_where_to_download_what_goes(client, alice):
    """It said to download a transcript "from its page", and linked the deck only (a newcomer's
    walk)."""
    client.force_login(alice)
    page = client.get("/account/delete/").content.decode()
    said = page[page.index("Download what you want") :].split("</p>", 1)[0]
    assert 'href="/history/"' in said and 'href="/deck/"' in said


def test_signing_up_again_into_a_used_up_week_is_not_asked_to_pick_a_scene(client, alice):
    """ "Welcome to Maraum! Pick a scene to start practising." in green above "You've had
    this week's 3 conversations" in red, every Start greyed under "Pick a scene" (a newcomer's
    walk): the picker says when a scene can be started, above the scenes."""
    set_week(alice, completed=3)
    client.force_login(alice)
    client.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    _sign_up_again(client, "alice@example.com")
    picker = " ".join(client.get("/").content.decode().split())
    assert "Pick a scene" not in picker
    assert "You can start one again when the new week starts (above)." in picker
    assert "Welcome to Maraum!" in picker
    fresh, strong = Client(), "Lerne-jeden-Tag-42"
    fresh.post("/signup/", {"email": "neu@example.com", "password1": strong, "password2": strong})
    picker = " ".join(fresh.get("/").content.decode().split())
    assert "Welcome to Maraum!" in picker
    assert "Pick a scene</h2>" in picker and "start one again" not in picker
