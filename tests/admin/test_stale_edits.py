"""A change form refuses to save over a change made since it was drawn: two staff members'
forms of one account or scene, the older saved last, undid the other's change to any field,
staff rights and "Is active" included (the attacker's replay)."""

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from scenarios.models import Goal, Scenario
from tests.admin.test_scenario_admin import edit_form

DRAWN_AS = re.compile(r'name="_drawn_as" value="([0-9a-f]+)"')


def _drawn_as(client, url: str) -> str:
    return DRAWN_AS.search(client.get(url).content.decode())[1]


def _other_staff_client(db) -> Client:
    other = Client()
    other.force_login(User.objects.create_user("other@example.com", None, is_staff=True))
    return other


def test_a_form_drawn_before_staff_rights_were_taken_does_not_give_them_back(db):
    # A superuser's page: only a superuser gives staff rights (accounts.admin).
    staff_client = Client()
    staff_client.force_login(User.objects.create_superuser("root@example.com", None))
    colleague = User.objects.create_user("colleague@example.com", None, is_staff=True)
    url = reverse("admin:accounts_user_change", args=[colleague.pk])
    stale = _drawn_as(staff_client, url)  # this staff member opens the page
    other = _other_staff_client(db)
    fresh = _drawn_as(other, url)
    assert other.post(url, {"email": colleague.email, "is_active": "on", "_drawn_as": fresh})[
        "Location"
    ]  # the other takes the rights away
    assert not User.objects.get(pk=colleague.pk).is_staff

    form = {"email": "colleague2@example.com", "is_active": "on", "is_staff": "on"}
    response = staff_client.post(url, {**form, "_drawn_as": stale})
    page = unescape(response.content.decode())
    assert response.status_code == 200
    assert "was changed since this page was opened (in another tab, or by someone else)" in page
    colleague.refresh_from_db()
    assert (colleague.email, colleague.is_staff) == ("colleague@example.com", False)
    # Sent back for the error, the form still holds the old drawing: saved again, refused again.
    again = DRAWN_AS.search(page)[1]
    assert again == stale
    assert staff_client.post(url, {**form, "_drawn_as": again}).status_code == 200
    assert not User.objects.get(pk=colleague.pk).is_staff
    # Drawn anew, it saves.
    response = staff_client.post(url, {**form, "_drawn_as": _drawn_as(staff_client, url)})
    assert response.status_code == 302
    assert User.objects.get(pk=colleague.pk).is_staff


def test_a_form_drawn_before_a_scene_was_deactivated_does_not_make_it_active(
    staff_client, party, db
):
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    stale = _drawn_as(staff_client, url)
    form = edit_form(party, description="A party (edited)")
    Scenario.objects.filter(pk=party.pk).update(is_active=False)  # deactivated meanwhile

    response = staff_client.post(url, {**form, "_drawn_as": stale})
    assert "was changed since this page was opened" in unescape(response.content.decode())
    party.refresh_from_db()
    assert not party.is_active
    assert "(edited)" not in party.description

    unchanged = _drawn_as(staff_client, url)  # nothing changed since: it saves
    response = staff_client.post(
        url, {**edit_form(party, description="Edited"), "_drawn_as": unchanged}
    )
    assert response.status_code == 302
    assert Scenario.objects.get(pk=party.pk).description == "Edited"


@pytest.mark.parametrize(
    "meanwhile",
    [
        lambda goals: goals.filter(position=1).update(text="Order two bread rolls"),
        lambda goals: goals.filter(position=1).delete(),
        lambda goals: goals.filter(position=5).update(offline_pattern="tschüss"),
    ],
    ids=["a goal reworded", "a goal deleted", "a goal's pattern changed"],
)
def test_a_form_drawn_before_a_goal_changed_does_not_undo_it(staff_client, party, meanwhile):
    """Only the scene's own fields counted: a stale page undid another's edit of a goal, or a
    swap of two, and after a goal's deletion it said "Please correct the error below" over no
    error shown (the attacker's recheck)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    stale = _drawn_as(staff_client, url)
    form = edit_form(party, description="A party (edited)")
    meanwhile(Goal.objects.filter(scenario=party))
    goals_then = list(
        Goal.objects.filter(scenario=party).values_list("pk", "text", "offline_pattern")
    )

    response = staff_client.post(url, {**form, "_drawn_as": stale})
    assert "was changed since this page was opened" in unescape(response.content.decode())
    assert (
        list(Goal.objects.filter(scenario=party).values_list("pk", "text", "offline_pattern"))
        == goals_then
    )
    assert "(edited)" not in Scenario.objects.get(pk=party.pk).description


def test_a_form_without_its_drawing_is_refused(db, party):
    """A change form posted without the digest of the row it was drawn on (a page opened
    before the check came, or one made by hand) saved unchecked (the last note's left item)."""
    other = _other_staff_client(db)
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    response = other.post(url, edit_form(party, title="Party, changed"))
    page = unescape(response.content.decode())
    assert response.status_code == 200
    assert "This form did not say which version of “🎉 Party” it was opened on" in page
    assert Scenario.objects.get(pk=party.pk).title == "Party"
    learner = User.objects.create_user("learner@example.com", None)
    url = reverse("admin:accounts_user_change", args=[learner.pk])
    assert other.post(url, {"email": learner.email, "is_staff": "on"}).status_code == 200
    assert not User.objects.get(pk=learner.pk).is_staff
