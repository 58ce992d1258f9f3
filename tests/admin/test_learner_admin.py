"""Learner admin: email search, profile counts, sessions link, cascading delete with counts."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.deletion import delete_account
from accounts.models import Profile, User
from chat.models import Message
from eventlog.models import Log
from lib.rls import acting_as_staff
from scenarios.models import Scenario, Session
from tests.admin.conftest import DrawingClient
from tests.conftest import PASSWORD, add_message, complete, run_sql, start_session

CHANGELIST = reverse("admin:accounts_user_changelist")


def _alice_with_history(alice, marketplace, party):
    done = start_session(alice, marketplace)
    add_message(done, "scenario", "main")
    add_message(done, "user", "main")
    complete(done)
    active = start_session(alice, party)
    add_message(active, "user", "helper")
    return done, active


def test_search_by_email_finds_the_learner(staff_client, alice, bob):
    body = staff_client.get(CHANGELIST, {"q": "ALICE@"}).content.decode()
    assert "alice@example.com" in body and "bob@example.com" not in body


def test_the_list_shows_profile_counts_and_a_link_to_the_sessions(
    staff_client, alice, marketplace, party
):
    _alice_with_history(alice, marketplace, party)
    response = staff_client.get(CHANGELIST, {"q": "alice"})
    row = response.context["cl"].result_list[0]
    assert row.profile.completed_scenario_count == 1
    assert row.profile.current_week_completion_count == 1
    body = response.content.decode()
    assert f"{reverse('admin:scenarios_session_changelist')}?user={alice.pk}" in body
    assert "2 sessions" in body


def test_delete_confirmation_counts_what_the_database_cascades(
    staff_client, alice, marketplace, party
):
    _alice_with_history(alice, marketplace, party)
    response = staff_client.get(reverse("admin:accounts_user_delete", args=[alice.pk]))
    model_count = dict(response.context["model_count"])
    assert model_count["profiles"] == 1
    assert model_count["sessions"] == 2
    assert model_count["messages"] == 3
    assert "2 sessions and 3 messages" in response.content.decode()
    # One of each, said so ("1 sessions": a newcomer's recheck).
    just_started = User.objects.create_user("new@example.com", None)
    add_message(start_session(just_started, marketplace), "user", "main")
    response = staff_client.get(reverse("admin:accounts_user_delete", args=[just_started.pk]))
    assert "1 profile, 1 session and 1 message" in response.content.decode()


def test_deleting_a_learner_deletes_everything_of_theirs(
    staff_client, alice, bob, marketplace, party
):
    done, active = _alice_with_history(alice, marketplace, party)
    start_session(bob, marketplace)
    response = staff_client.post(
        reverse("admin:accounts_user_delete", args=[alice.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk=alice.pk).exists()
    with acting_as_staff():
        assert not Profile.objects.filter(pk=alice.pk).exists()
        assert not Session.objects.filter(user_id=alice.pk).exists()
        assert not Message.objects.filter(session_id__in=[done.pk, active.pk]).exists()
        assert Session.objects.filter(user_id=bob.pk).count() == 1


def test_bulk_delete_confirmation_counts_too(staff_client, alice, bob, marketplace, party):
    _alice_with_history(alice, marketplace, party)
    start_session(bob, marketplace)
    response = staff_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk]}
    )
    model_count = dict(response.context["model_count"])
    assert (model_count["profiles"], model_count["sessions"], model_count["messages"]) == (2, 3, 3)


def test_a_superuser_creates_staff_users(db):
    superuser = Client()
    superuser.force_login(User.objects.create_superuser("root@example.com", PASSWORD))
    response = superuser.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "new-staff@example.com",
            "is_staff": "on",
            "usable_password": "true",
            "password1": "a-Long-pass-phrase-77",
            "password2": "a-Long-pass-phrase-77",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new-staff@example.com")
    assert user.is_staff and user.check_password("a-Long-pass-phrase-77")
    with acting_as_staff():
        assert Profile.objects.filter(pk=user.pk).exists()


def test_only_a_superuser_gives_staff_rights(staff_client, alice):
    """A staff member took a colleague's rights away, set the password of the learner that
    left, gave the rights back and logged in as the colleague (a newcomer's recheck)."""
    colleague = User.objects.create_user("colleague@example.com", PASSWORD, is_staff=True)
    url = reverse("admin:accounts_user_change", args=[colleague.pk])
    assert staff_client.post(url, {"email": colleague.email, "is_active": "on"}).status_code == 302
    new_password = {"password1": "Another-long-pass-42", "password2": "Another-long-pass-42"}
    assert staff_client.post(_password_form(colleague), new_password).status_code == 302
    given_back = {"email": colleague.email, "is_active": "on", "is_staff": "on"}
    assert staff_client.post(url, given_back).status_code == 302  # the box is not on the form
    colleague.refresh_from_db()
    assert not colleague.is_staff
    # Nor to a learner, nor to a new account.
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    assert 'name="is_staff"' not in staff_client.get(url).content.decode()
    staff_client.post(url, {"email": alice.email, "is_active": "on", "is_staff": "on"})
    add = reverse("admin:accounts_user_add")
    assert 'name="is_staff"' not in staff_client.get(add).content.decode()
    staff_client.post(
        add,
        {
            "email": "new-staff@example.com",
            "is_staff": "on",
            "usable_password": "true",
            "password1": "a-Long-pass-phrase-77",
            "password2": "a-Long-pass-phrase-77",
        },
    )
    assert not User.objects.filter(is_staff=True).exclude(email="staff@example.com").exists()


def test_a_superuser_giving_staff_rights_back_is_told_who_set_the_password(staff_client, staff):
    """A staff member took a colleague's rights away and set the password of the learner that
    left; a superuser who gave the rights back was not told, and the staff member could log
    in as the colleague (the last note's item). Their own changes are not told of."""
    colleague = User.objects.create_user("colleague@example.com", PASSWORD, is_staff=True)
    url = reverse("admin:accounts_user_change", args=[colleague.pk])
    assert staff_client.post(url, {"email": colleague.email, "is_active": "on"}).status_code == 302
    new_password = {"password1": "Another-long-pass-42", "password2": "Another-long-pass-42"}
    assert staff_client.post(_password_form(colleague), new_password).status_code == 302
    superuser = DrawingClient()
    root = User.objects.create_superuser("root@example.com", PASSWORD)
    superuser.force_login(root)
    # The history still reads as Django writes it.
    history = superuser.get(reverse("admin:accounts_user_history", args=[colleague.pk]))
    assert "Changed password." in history.content.decode()
    given_back = {"email": colleague.email, "is_active": "on", "is_staff": "on"}
    response = superuser.post(url, given_back, follow=True)
    said = [str(message) for message in response.context["messages"]]
    # Not opening with the email, which the admin capitalised (a newcomer's recheck).
    assert said[0].startswith(
        "This account's password or email was set in the admin by staff@example.com (last on "
    )
    assert said[0].endswith(
        "who may know how to log in as it. Unless its owner has chosen a new password since, "
        "set one for it, or have them reset theirs."
    )
    assert "Staff@example.com" not in response.content.decode()
    colleague.refresh_from_db()
    assert colleague.is_staff  # given all the same
    # An account staff added with a password of theirs too (the attacker's recheck).
    added = {
        "email": "newbie@example.com",
        "usable_password": "true",
        "password1": "a-Long-pass-phrase-77",
        "password2": "a-Long-pass-phrase-77",
    }
    assert staff_client.post(reverse("admin:accounts_user_add"), added).status_code == 302
    newbie = User.objects.get(email="newbie@example.com")
    url = reverse("admin:accounts_user_change", args=[newbie.pk])
    given = {"email": newbie.email, "is_active": "on", "is_staff": "on"}
    said = [str(m) for m in superuser.post(url, given, follow=True).context["messages"]]
    assert said[0].startswith(
        "This account's password or email was set in the admin by staff@example.com (last on "
    )
    # Changes of the superuser's own are not told of.
    other = User.objects.create_user("other@example.com", PASSWORD, is_staff=True)
    url = reverse("admin:accounts_user_change", args=[other.pk])
    assert superuser.post(url, {"email": other.email, "is_active": "on"}).status_code == 302
    assert superuser.post(_password_form(other), new_password).status_code == 302
    given_back = {"email": other.email, "is_active": "on", "is_staff": "on"}
    response = superuser.post(url, given_back, follow=True)
    assert not [m for m in response.context["messages"] if "log in as it" in str(m)]
    other.refresh_from_db()
    assert other.is_staff


def test_changelist_queries_do_not_grow_with_rows(
    staff_client, marketplace, django_assert_max_num_queries
):
    for i in range(30):
        learner = User.objects.create_user(f"learner{i}@example.com")
        start_session(learner, marketplace)
    with django_assert_max_num_queries(13):
        response = staff_client.get(CHANGELIST)
    assert response.status_code == 200 and "learner29@example.com" in response.content.decode()


def test_the_admin_writes_dates_as_the_app_does_with_their_time_zone(staff_client, alice):
    """US-style "Dec. 5, 2026, 7:27 p.m." without a time zone, beside pages that say
    "5 December 2026, 19:28 UTC" (a newcomer's walk)."""
    from datetime import UTC, datetime

    User.objects.filter(pk=alice.pk).update(date_joined=datetime(2026, 12, 5, 19, 27, tzinfo=UTC))
    page = staff_client.get(reverse("admin:accounts_user_change", args=[alice.pk]))
    assert "5 Dec 2026, 19:27 UTC" in page.content.decode()
    listed = staff_client.get(CHANGELIST, {"q": "alice"}).content.decode()
    next_reset = r"<td class=\"field-next_reset[^\"]*\">\d{1,2} \w{3} \d{4}, 00:00 UTC</td>"
    assert re.search(next_reset, listed)
    # A method's value on the change page, and the sessions list (the recheck).
    assert re.search(
        r"<div class=\"readonly\">\d{1,2} \w{3} \d{4}, 00:00 UTC</div>", page.content.decode()
    )
    start_session(alice, Scenario.objects.get(code="marketplace"))
    sessions = staff_client.get(reverse("admin:scenarios_session_changelist")).content.decode()
    assert re.search(
        r"<td class=\"field-started[^\"]*\">\d{1,2} \w{3} \d{4}, \d\d:\d\d UTC</td>", sessions
    )


def _admin_history() -> str:
    return repr(run_sql("SELECT object_repr, change_message FROM django_admin_log")).lower()


def _deletions_logged() -> int:
    with acting_as_staff():  # without whose: the logs forget a deleted learner's id
        return Log.objects.filter(event_type="account_deleted").count()


def test_a_learner_deleted_in_the_admin_is_logged_and_leaves_no_email(staff_client, alice, bob):
    """The admin's deletion wrote no `account_deleted` row, and its history kept the email as
    the name of each change and of the deletion (the attacker's replay)."""
    change = reverse("admin:accounts_user_change", args=[alice.pk])
    staff_client.post(change, {"email": "alice.new@example.com", "is_active": "on"})
    assert "alice.new@example.com" in _admin_history()
    staff_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk], "post": "yes"},
    )
    assert not User.objects.filter(pk__in=[alice.pk, bob.pk]).exists()
    history = _admin_history()
    assert "alice" not in history and "bob" not in history
    assert "a deleted account" in history  # what staff did stays, not who it was
    assert _deletions_logged() == 2


def test_a_learner_deleting_their_account_leaves_no_email_in_the_admin(staff_client, alice):
    change = reverse("admin:accounts_user_change", args=[alice.pk])
    staff_client.post(change, {"email": "alice.new@example.com", "is_active": "on"})
    alice.refresh_from_db()
    assert delete_account(alice) is not None
    assert "alice" not in _admin_history()


def test_a_second_deletion_of_an_account_logs_nothing(alice):
    assert delete_account(alice) is not None
    assert delete_account(alice) is None  # a second tab's, say
    assert _deletions_logged() == 1


def test_a_deletion_is_logged_in_the_admin_without_the_email(rf, staff, alice):
    """Two deletes of one account at once (a double click): the one whose deletion found the
    account gone kept its history entry, written before it, with the email (the attacker's
    recheck). The entry never names the account by its email."""
    from django.contrib import admin

    request = rf.post("/admin/")
    request.user = staff
    learner_admin = admin.site._registry[User]
    learner_admin.log_deletions(request, [alice])
    learner_admin.delete_model(request, alice)
    history = _admin_history()
    assert "alice" not in history and "a deleted account" in history


def _admin_request(rf, staff):
    """A request of the staff member's, as the admin's views get it (with messages)."""
    from django.contrib.messages.storage.fallback import FallbackStorage

    request = rf.post("/admin/")
    request.user, request.session = staff, {}
    request._messages = FallbackStorage(request)
    return request


def _admin_deletions() -> int:
    return run_sql("SELECT count(*) FROM django_admin_log WHERE action_flag = 3")[0][0]


def test_two_admin_deletes_of_one_account_at_once_write_one_history_entry(rf, staff, alice):
    """A double click on "Yes, I'm sure": both requests had the account, and the admin's history
    entry, written before the deletion, was written by both (the last note's left item). Here
    the two run as Django runs each (log, then delete), the second with the account it read
    before the first deleted it; and the same for the list's bulk delete."""
    from django.contrib import admin

    learner_admin = admin.site._registry[User]
    request = _admin_request(rf, staff)
    stale = User.objects.get(pk=alice.pk)
    for _ in range(2):
        learner_admin.log_deletions(request, [stale])
        learner_admin.delete_model(request, stale)
    assert _admin_deletions() == 1
    assert _deletions_logged() == 1
    bob = User.objects.create_user(email="bob.bulk@example.com", password="pw-123456789")
    stale_list = list(User.objects.filter(pk=bob.pk))
    for _ in range(2):
        learner_admin.log_deletions(request, stale_list)
        learner_admin.delete_queryset(request, stale_list)
    assert _admin_deletions() == 2
    assert "a deleted account" in _admin_history() and "bob" not in _admin_history()


def test_a_staff_account_that_wrote_the_admins_history_is_kept(staff_client, staff, alice):
    """Deleting a staff account deleted every entry it wrote in the admin's history (Django's
    LogEntry.user cascades): who did what went (the attacker's recheck). Such an account is
    deactivated instead; one that wrote nothing may go."""
    from accounts.deletion import KeepsAdminHistory

    colleague = User.objects.create_user("colleague@example.com", PASSWORD, is_staff=True)
    helper = DrawingClient()
    helper.force_login(colleague)
    change = reverse("admin:accounts_user_change", args=[alice.pk])
    helper.post(change, {"email": "alice@example.com", "is_active": "on"})
    written = run_sql("SELECT count(*) FROM django_admin_log")[0][0]
    assert written == 1
    delete = reverse("admin:accounts_user_delete", args=[colleague.pk])
    for asked in (
        staff_client.get(delete, follow=True),
        staff_client.post(delete, {"post": "yes"}, follow=True),
    ):
        said = " ".join(asked.content.decode().split())
        assert "staff deactivate it (its Active box) instead" in said, said[:300]
    bulk = {"action": "delete_selected", "_selected_action": [colleague.pk]}
    confirming = " ".join(staff_client.post(CHANGELIST, bulk).content.decode().split())
    assert "colleague@example.com: This account made changes in the admin" in confirming
    assert staff_client.post(CHANGELIST, {**bulk, "post": "yes"}).status_code == 403
    colleague.is_staff = False  # demoted: its entries are still the history's (the recheck)
    colleague.save(update_fields=["is_staff"])
    with pytest.raises(KeepsAdminHistory):
        delete_account(colleague)
    asking = helper.get("/account/delete/").content.decode()
    assert "made changes in the admin" in asking and 'name="password"' not in asking
    own = helper.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    assert own.status_code == 200 and "made changes in the admin" in own.content.decode()
    assert User.objects.filter(pk=colleague.pk).exists()
    assert run_sql("SELECT count(*) FROM django_admin_log")[0][0] == written
    newcomer = User.objects.create_user("new.staff@example.com", PASSWORD, is_staff=True)
    gone = reverse("admin:accounts_user_delete", args=[newcomer.pk])
    assert staff_client.post(gone, {"post": "yes"}).status_code == 302
    assert not User.objects.filter(pk=newcomer.pk).exists()


def test_an_entry_written_as_the_account_is_deleted_keeps_it(
    staff_client, staff, alice, monkeypatch
):
    """Checked, then deleted: an entry written between the two went with the account, or the
    deletion was a 500 (the attacker's recheck). The database refuses to delete the entry."""
    from accounts import deletion

    colleague = User.objects.create_user("colleague@example.com", PASSWORD, is_staff=True)
    helper = DrawingClient()
    helper.force_login(colleague)
    helper.post(reverse("admin:accounts_user_change", args=[alice.pk]), {"email": "a@example.com"})
    assert run_sql("SELECT count(*) FROM django_admin_log")[0][0] == 1
    monkeypatch.setattr(deletion, "keeps_admin_history", lambda user: False)  # asked before
    with pytest.raises(deletion.KeepsAdminHistory):
        deletion.delete_account(colleague)
    assert User.objects.filter(pk=colleague.pk).exists()
    assert run_sql("SELECT count(*) FROM django_admin_log")[0][0] == 1
    own = helper.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    assert own.status_code == 200 and "made changes in the admin" in own.content.decode()
    assert User.objects.filter(pk=colleague.pk).exists()


def test_staff_may_delete_their_own_account_that_wrote_no_history(db, client):
    """A 500: the deletion's entry was written by the account just deleted (the recheck)."""
    own = User.objects.create_user("leaving.staff@example.com", PASSWORD, is_staff=True)
    client.force_login(own)
    delete = reverse("admin:accounts_user_delete", args=[own.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not User.objects.filter(pk=own.pk).exists()
    assert run_sql("SELECT count(*) FROM django_admin_log")[0][0] == 0


def test_the_second_of_two_deletes_at_once_says_the_account_was_gone(rf, staff, alice):
    """Both requests of a double click said "deleted successfully" (the attacker's recheck)."""
    from django.contrib import admin
    from django.contrib.messages import get_messages

    learner_admin = admin.site._registry[User]
    stale = User.objects.get(pk=alice.pk)
    said = []
    for _ in range(2):
        request = _admin_request(rf, staff)
        learner_admin.delete_model(request, stale)
        response = learner_admin.response_delete(request, str(stale), stale.pk)
        said.append([str(message) for message in get_messages(request)])
    assert "deleted successfully" in said[0][0]
    assert said[1] == ["That account had been deleted already (in another tab?)."]
    assert response.status_code == 302


def _password_form(user: User) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


def test_staff_cannot_take_over_a_superusers_or_another_staff_members_account(staff_client):
    """A staff member set a superuser's password and logged in with it, to the pages staff
    are refused (the attacker's replay). A superuser's account is shown to staff, not changed;
    another staff member's password and email only a superuser sets (a reset sent to an
    address of one's own takes an account over too)."""
    root = User.objects.create_superuser("root@example.com", PASSWORD)
    colleague = User.objects.create_user("colleague@example.com", PASSWORD, is_staff=True)
    new_password = {"password1": "Another-long-pass-42", "password2": "Another-long-pass-42"}
    for account in (root, colleague):
        refused = staff_client.post(_password_form(account), new_password, follow=True)
        assert "Only a superuser can set a superuser&#x27;s or" in refused.content.decode()
        account.refresh_from_db()
        assert account.check_password(PASSWORD)

    url = reverse("admin:accounts_user_change", args=[root.pk])
    page = staff_client.get(url)
    assert page.status_code == 200 and not page.context["has_change_permission"]
    # Said on the page, without a "Reset password" that led only to the refusal, nor the
    # delete page's advice to untick an Active box staff cannot (a newcomer's recheck).
    for account in (root, colleague):
        shown = staff_client.get(reverse("admin:accounts_user_change", args=[account.pk]))
        shown = shown.content.decode()
        assert "Only a superuser can set this account&#x27;s password." in shown
        assert 'href="../password/"' not in shown
    assert re.search(
        r"<label>Superuser status:</label>\s*<div class=\"readonly\"><img", page.content.decode()
    )
    refused = staff_client.get(reverse("admin:accounts_user_delete", args=[root.pk]), follow=True)
    said = refused.content.decode()
    assert "Only a superuser can change or delete a superuser&#x27;s account." in said
    assert "Active box" not in said
    # Its id as the admin encodes one in an address too: a bare 403 (the attacker's recheck).
    encoded = reverse("admin:accounts_user_delete", args=[f"urn_3Auuid_3A{root.pk}"])
    assert staff_client.get(encoded)["Location"] == url
    bulk = {"action": "delete_selected", "_selected_action": [root.pk]}
    confirming = staff_client.post(CHANGELIST, bulk).content.decode()
    assert "root@example.com: Only a superuser can change or delete" in confirming
    assert "Active box" not in confirming
    posted = staff_client.post(url, {"email": "mine@example.com", "is_staff": "on"})
    assert posted.status_code == 403
    delete = reverse("admin:accounts_user_delete", args=[root.pk])
    assert staff_client.post(delete, {"post": "yes"})["Location"] == url  # refused, said why
    root.refresh_from_db()
    assert (root.email, root.is_active) == ("root@example.com", True)

    # Another staff member's rights may still be taken away, but not their address changed.
    url = reverse("admin:accounts_user_change", args=[colleague.pk])
    drawn = re.search(r'name="_drawn_as" value="(\w+)"', staff_client.get(url).content.decode())
    form = {"email": "mine@example.com", "is_active": "on", "_drawn_as": drawn[1]}
    assert staff_client.post(url, form).status_code == 302
    colleague.refresh_from_db()
    assert (colleague.email, colleague.is_staff) == ("colleague@example.com", False)


def test_staff_set_a_learners_password_and_a_superuser_anyones(staff_client, alice):
    new_password = {"password1": "Another-long-pass-42", "password2": "Another-long-pass-42"}
    assert staff_client.post(_password_form(alice), new_password).status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Another-long-pass-42")

    root = Client()
    root.force_login(User.objects.create_superuser("root@example.com", PASSWORD))
    colleague = User.objects.create_user("colleague@example.com", PASSWORD, is_staff=True)
    page = root.get(reverse("admin:accounts_user_change", args=[colleague.pk])).content.decode()
    assert 'href="../password/"' in page  # a superuser's button
    assert root.post(_password_form(colleague), new_password).status_code == 302
    colleague.refresh_from_db()
    assert colleague.check_password("Another-long-pass-42")


def test_a_learners_page_shows_their_level(staff_client, alice):
    """It showed none (a newcomer's walk)."""
    from accounts import levels

    levels.set_level(alice.pk, "B1")
    page = staff_client.get(reverse("admin:accounts_user_change", args=[alice.pk]))
    shown = r'<label>Level:</label>\s*<div class="readonly">B1 · intermediate</div>'
    assert re.search(shown, page.content.decode())
