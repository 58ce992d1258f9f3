"""Scenario admin: edit and order; a scenario with sessions is deactivated, never deleted."""

from django.contrib.admin.models import LogEntry
from django.urls import reverse

from scenarios.models import Scenario
from tests.conftest import start_session

CHANGELIST = reverse("admin:scenarios_scenario_changelist")


def test_staff_edit_every_field(staff_client, party):
    response = staff_client.post(
        reverse("admin:scenarios_scenario_change", args=[party.pk]),
        {
            "title": "Birthday party",
            "emoji": "🎂",
            "code": "birthday",
            "initial_message_main": "Hallo! Schön, dass du da bist.",
            "initial_message_helper": "Say hello back.",
            "is_active": "on",
            "sort_order": "7",
        },
    )
    assert response.status_code == 302
    party.refresh_from_db()
    assert (party.title, party.emoji, party.code, party.sort_order) == (
        "Birthday party",
        "🎂",
        "birthday",
        7,
    )
    assert LogEntry.objects.filter(object_id=str(party.pk)).exists()


def test_deleting_a_scenario_with_sessions_is_refused_with_the_reason(
    staff_client, alice, marketplace
):
    start_session(alice, marketplace)
    url = reverse("admin:scenarios_scenario_delete", args=[marketplace.pk])
    for response in (
        staff_client.get(url, follow=True),
        staff_client.post(url, {"post": "yes"}, follow=True),
    ):
        body = response.content.decode()
        assert "cannot be deleted" in body and "ON DELETE RESTRICT" in body
        assert reverse("admin:scenarios_scenario_deactivate", args=[marketplace.pk]) in body
    assert Scenario.objects.filter(pk=marketplace.pk).exists()


def test_bulk_delete_with_a_used_scenario_deletes_nothing(staff_client, alice, marketplace, party):
    start_session(alice, marketplace)
    response = staff_client.post(
        CHANGELIST,
        {
            "action": "delete_unused_scenarios",
            "_selected_action": [marketplace.pk, party.pk],
            "post": "yes",
        },
        follow=True,
    )
    assert "cannot be deleted" in response.content.decode()
    assert Scenario.objects.filter(pk__in=[marketplace.pk, party.pk]).count() == 2


def test_an_unused_scenario_can_be_deleted(staff_client, party):
    response = staff_client.post(
        reverse("admin:scenarios_scenario_delete", args=[party.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Scenario.objects.filter(pk=party.pk).exists()


def test_deactivating_hides_the_scenario_and_is_logged(staff_client, staff, alice, marketplace):
    start_session(alice, marketplace)
    url = reverse("admin:scenarios_scenario_deactivate", args=[marketplace.pk])
    assert "Yes, deactivate it" in staff_client.get(url).content.decode()
    response = staff_client.post(url, follow=True)  # the confirmation is shown, and read
    assert response.redirect_chain[0][1] == 302
    marketplace.refresh_from_db()
    assert not marketplace.is_active
    assert LogEntry.objects.filter(user=staff, object_id=str(marketplace.pk)).exists()
    assert "Marketplace" not in staff_client.get("/").content.decode()


def test_order_and_active_flag_are_editable_in_the_list(staff_client, marketplace, party):
    scenarios = list(Scenario.objects.order_by("sort_order", "id"))
    data = {
        "form-TOTAL_FORMS": str(len(scenarios)),
        "form-INITIAL_FORMS": str(len(scenarios)),
        "_save": "Save",
    }
    for i, scenario in enumerate(scenarios):
        data[f"form-{i}-id"] = str(scenario.pk)
        data[f"form-{i}-sort_order"] = str(10 - i)
        if scenario.pk != party.pk:
            data[f"form-{i}-is_active"] = "on"
    assert staff_client.post(CHANGELIST, data).status_code == 302
    party.refresh_from_db()
    assert not party.is_active
    assert list(Scenario.objects.order_by("sort_order").values_list("pk", flat=True)) == [
        s.pk for s in reversed(scenarios)
    ]


def test_changelist_queries_do_not_grow_with_rows(staff_client, django_assert_max_num_queries):
    for i in range(30):
        Scenario.objects.create(
            code=f"extra-{i}",
            title=f"Extra {i}",
            emoji="🧪",
            initial_message_main="Hallo",
            initial_message_helper="Hi",
        )
    with django_assert_max_num_queries(13):
        assert staff_client.get(CHANGELIST).status_code == 200


def test_the_code_field_is_explained_in_plain_text(staff_client):
    body = staff_client.get("/admin/scenarios/scenario/add/").content.decode()
    assert "prompts/CODE.md" in body and "<code>" not in body  # no stray tag in the help
