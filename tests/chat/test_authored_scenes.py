"""A scene staff author in the admin plays at once, offline and with the model; and a turn
that fails for any reason is logged and shown to the learner, never a dropped socket."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from accounts.models import User
from chat import turns
from scenarios import lifecycle
from scenarios.models import Scenario
from tests.chat.conftest import FINISHED, Tab, chat_db, events, settle, stored
from tests.conftest import KIOSK_GOALS, PASSWORD, as_staff_type_it, kiosk_fields

pytestmark = chat_db

LIST_FIELDS = ("vocabulary", "offline_lines", "offline_tips")


def admin_form(goals=KIOSK_GOALS, **changes) -> dict:
    """The admin's add form for the kiosk scene, as staff fill it in."""
    fields = kiosk_fields(**changes)
    data = {key: value for key, value in fields.items() if key not in LIST_FIELDS}
    data.update({key: as_staff_type_it(key, fields[key]) for key in LIST_FIELDS})
    data["is_active"] = "on"
    data.update(
        {
            "goals-TOTAL_FORMS": str(len(goals)),
            "goals-INITIAL_FORMS": "0",
            "goals-MIN_NUM_FORMS": "0",
            "goals-MAX_NUM_FORMS": "5",
        }
    )
    for index, (text, pattern) in enumerate(goals):
        data[f"goals-{index}-position"] = str(index + 1)
        data[f"goals-{index}-text"] = text
        data[f"goals-{index}-offline_pattern"] = pattern
    return data


def staff_post(data: dict):
    staff = User.objects.create_user("author@example.com", PASSWORD, is_staff=True)
    client = Client()
    client.force_login(staff)
    return client.post(reverse("admin:scenarios_scenario_add"), data)


def test_a_scene_that_lacks_what_it_needs_cannot_be_active(db):
    response = staff_post(admin_form(goals=KIOSK_GOALS[:2], character_brief=""))
    assert response.status_code == 200  # the form again, with the reason
    body = response.content.decode()
    assert "cannot be active yet: it lacks the character’s brief and 3 to 5 goals" in body.replace(
        "&#x27;", "’"
    ).replace("'", "’")
    assert not Scenario.objects.filter(code="kiosk").exists()


@pytest.mark.parametrize("partner", ["offline", "fake_anthropic"])
async def test_a_scene_authored_in_the_admin_plays_at_once(request, alice, partner):
    response = await sync_to_async(staff_post)(admin_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    kiosk = await Scenario.objects.aget(code="kiosk")
    fake = request.getfixturevalue(partner)
    session = await sync_to_async(lifecycle.start_session)(alice.pk, kiosk)
    tab = Tab(alice, session.pk)
    await tab.connect()
    for chat in ("main", "helper"):
        await tab.send(chat=chat, message="Guten Tag! Eine Zeitung, bitte.")
        await tab.until(FINISHED)
    await settle()
    await tab.close()
    main = await stored(session.pk, "main")
    assert main[-1][0] == "scenario" and (await stored(session.pk, "helper"))[-1][0] == "helper"
    if fake:
        system = fake.requests[0].body["system"][0]["text"]
        assert "Herr Yilmaz" in system and "kiosk" in system and "2. Buy a newspaper" in system
    else:
        assert main[-1][1] == "Guten Morgen! Schön, Sie zu sehen."  # its offline script


async def test_any_failure_of_a_turn_is_logged_and_shown(
    alice, alice_session, fake_anthropic, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr(turns.prompting, "build_request", broken)
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hallo")
    notice = await tab.until('data-frame="notice"')
    assert "Something went wrong on our side" in notice
    [(_, level, metadata)] = await events("unknown_error")
    assert level == "error"
    assert metadata == {"chat": "main", "where": "chat_turn", "error": "RuntimeError"}
    monkeypatch.undo()
    await tab.send(message="Hallo")  # the socket is still open, and the turn works now
    await tab.until(FINISHED)
    await settle()
    await tab.close()


@pytest.mark.parametrize("path", ["plain", "step by step"])
async def test_an_edit_of_the_scene_plays_from_the_next_turn_in_tabs_already_open(
    alice, alice_session, offline, path, monkeypatch
):
    """A socket kept the scene it loaded when it opened: after a staff edit, two tabs of one
    session played the old and the new script in turn (the ops replay)."""
    if path == "step by step":
        monkeypatch.setattr(turns, "_take_plain_turn", lambda *args: None)
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.until('data-frame="sync"')

    @sync_to_async
    def staff_edit():
        from lib.rls import acting_as_staff

        with acting_as_staff():
            Scenario.objects.filter(pk=alice_session.scenario_id).update(
                offline_lines=["Ganz neu: Guten Tag!", "Ganz neu: Tschüss!"],
                character_name="Frau Neu",
            )

    await staff_edit()
    await tab.send(message="Hallo, ich schaue mal.")
    finished = await tab.until(FINISHED)
    assert "Ganz neu: Guten Tag!" in finished and "Frau Neu" in finished
