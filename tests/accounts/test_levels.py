"""The learner's level: picked at sign-up, changed on the account page or when starting a
scene; the session keeps the level it was played at, and the prompts are pitched to it."""

import pytest

from accounts.models import Profile
from chat.goals import goal_states
from chat.prompting import build_request
from lib.rls import acting_as_learner
from scenarios.models import Session
from scenarios.prompts import load_prompt
from tests.conftest import PASSWORD, add_message, staff_get


def level_of(user) -> str:
    return staff_get(Profile, pk=user.pk).level


def test_sign_up_with_a_level(client, db):
    response = client.post(
        "/signup/",
        {"email": "dana@example.com", "password1": PASSWORD, "password2": PASSWORD, "level": "B1"},
    )
    assert response.status_code == 302
    assert staff_get(Profile, email="dana@example.com").level == "B1"


def test_the_account_page_changes_the_level(client, alice):
    client.force_login(alice)
    assert 'value="A1" id="id_level_0" required checked' in client.get("/account/").content.decode()
    assert client.post("/account/", {"level": "A2"}).status_code == 302
    assert level_of(alice) == "A2"
    refused = client.post("/account/", {"level": "C2"})
    assert "Select a valid choice" in refused.content.decode() and level_of(alice) == "A2"


def test_starting_a_scene_at_a_level_records_it_and_keeps_it(client, alice, marketplace):
    client.force_login(alice)
    assert '<option value="A1" selected>' in client.get("/").content.decode()
    response = client.post("/scenarios/marketplace/start/", {"level": "B1"})
    assert response.status_code == 302
    assert staff_get(Session, user_id=alice.pk).level == "B1" and level_of(alice) == "B1"


def test_an_unknown_level_is_refused_and_nothing_starts(client, alice, marketplace):
    client.force_login(alice)
    response = client.post("/scenarios/marketplace/start/", {"level": "Z9"})
    assert response.status_code == 400 and b"choose A1, A2 or B1" in response.content
    with acting_as_learner(alice.pk):
        assert not Session.objects.exists()


@pytest.mark.parametrize("level", ["A1", "A2", "B1"])
def test_both_prompts_are_pitched_to_the_sessions_level(alice, marketplace, level):
    with acting_as_learner(alice.pk):
        session = Session.objects.create(user_id=alice.pk, scenario=marketplace, level=level)
    said = add_message(session, "user", "main", "Hallo!")
    states = goal_states(session.pk)
    description = load_prompt(f"levels/{level}")
    for_the_character = description.split("For the helper:")[0]
    character, helper = (
        build_request(marketplace, chat, [said], level=session.level, goals=states).system[0]
        for chat in ("main", "helper")
    )
    assert for_the_character.strip() in character["text"]
    assert "For the helper" not in character["text"]
    assert description in helper["text"]
