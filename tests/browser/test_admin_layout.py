"""The admin's lists in headless Chromium: a laptop's 1,280 pixels show every column."""

import pytest

from accounts.models import User
from tests.browser.conftest import needs_chromium, watch_for_problems
from tests.conftest import PASSWORD, complete, start_session

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("width", [1280, 1400])  # at 1,280 "Duration" was cut (a newcomer's walk)
def test_the_sessions_list_fits_beside_its_filters(daphne_server, browser, marketplace, width):
    User.objects.create_user("staff@example.com", PASSWORD, is_staff=True, is_superuser=True)
    learner = User.objects.create_user("friedrich.wilhelm.von.langenhausen@example.com", PASSWORD)
    complete(start_session(learner, marketplace))  # with a duration
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/admin/login/?next=/admin/scenarios/session/")
    page.get_by_label("Email").fill("staff@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    results = page.locator("#changelist .results")
    results.wait_for()
    assert results.evaluate("e => e.scrollWidth <= e.clientWidth")  # no hidden columns
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.get_by_role("columnheader", name="Duration").is_visible()
    assert problems == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_scenes_description_shows_whole_on_its_change_page(daphne_server, browser):
    """It was cut off at the admin's 20em (a newcomer's walk), and a wider box still cut
    off the longest ones (the recheck)."""
    from scenarios.models import Scenario

    User.objects.create_user("staff@example.com", PASSWORD, is_staff=True, is_superuser=True)
    bakery = Scenario.objects.get(code="bakery")
    bakery.description = ("Buy bread rolls, a loaf and some cake at the bakery. " * 4)[:200]
    bakery.save()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{daphne_server}/admin/login/?next=/admin/scenarios/scenario/{bakery.pk}/change/")
    page.get_by_label("Email").fill("staff@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    description = page.locator("#id_description")
    description.wait_for()
    assert description.input_value() == bakery.description
    assert description.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert description.evaluate("e => e.scrollHeight <= e.clientHeight")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_deactivate_asks_with_two_answers_of_one_height(daphne_server, browser, alice, party):
    """ "Yes, deactivate it" and "No, take me back" stood at two heights (a newcomer's walk)."""
    start_session(alice, party)
    User.objects.create_user("staff@example.com", PASSWORD, is_staff=True, is_superuser=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/admin/login/?next=/admin/scenarios/scenario/{party.pk}/deactivate/")
    page.get_by_label("Email").fill("staff@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    yes = page.get_by_role("button", name="Yes, deactivate it")
    no = page.get_by_role("link", name="No, take me back")
    yes.wait_for()
    boxes = [yes.bounding_box(), no.bounding_box()]
    assert boxes[0]["height"] == boxes[1]["height"] and boxes[0]["y"] == boxes[1]["y"], boxes
    assert problems == []
