"""The learner's journey in headless Chromium: sign up, start, come back, delete the account."""

import re

import pytest

from accounts.models import User
from tests.browser.conftest import needs_chromium, watch_for_problems

PASSWORD = "Lerne-jeden-Tag-42"

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sign_up_start_continue_and_delete_the_account(daphne_server, browser):
    page = browser.new_page()
    problems = watch_for_problems(page)
    _journey(page, daphne_server)
    assert problems == []
    assert not User.objects.filter(email="carla@example.com").exists()


def _journey(page, url: str) -> None:
    from playwright.sync_api import expect

    page.set_default_timeout(10_000)

    page.goto(url)
    # The header's sign-up button has its own padding (the nav links' zero had squeezed it).
    sign_up = page.locator("header").get_by_role("link", name="Sign up")
    assert sign_up.evaluate("e => getComputedStyle(e).paddingLeft") != "0px"
    # Named by its title alone, the rest its description (a screen reader read the whole card
    # as its name: a newcomer's walk).
    kebab = page.get_by_role("link", name=re.compile(r"^Kebab shop\W+sign up to play it$"))
    expect(kebab).to_have_accessible_description(re.compile(r"^Suggested levels .+\. \w"))
    kebab.click()
    page.get_by_label("Email").fill("carla@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("3 of 3")).to_be_visible()
    # The picker opens at the scene clicked before signing up.
    expect(page).to_have_url(re.compile(r"/#scene-kebab$"))
    expect(page.get_by_role("button", name="Start Kebab shop")).to_be_in_viewport()

    page.get_by_role("button", name="Start Marketplace").click()
    expect(page).to_have_url(re.compile(r"/sessions/[0-9a-f-]+/$"))
    german = page.get_by_role("region", name="German")
    helper = page.get_by_role("region", name="Helper")
    expect(german).to_contain_text("ganz frisches Obst")
    expect(helper).to_contain_text("Frau Hoffmann")
    # Started to talk: the focus waits in the role-play's box (it stayed on the page), which
    # a screen reader describes with the opening line, once (a newcomer's recheck).
    box = page.get_by_label("Your message, in German")
    expect(box).to_be_focused()
    expect(box).to_have_accessible_description(re.compile("^Frau Hoffmann: Guten Morgen!"))
    page.keyboard.press("Shift+Tab")
    box.focus()
    expect(box).not_to_have_accessible_description(re.compile("Guten Morgen"))

    page.get_by_role("link", name="Practise").click()
    expect(page.get_by_role("link", name="Continue Marketplace")).to_be_visible()
    # Pages that ask, and messages after a redirect, take the focus: it stayed on the page,
    # and a screen reader read neither (a newcomer's walk).
    page.get_by_role("link", name="End and delete it…").click()
    expect(page.get_by_role("heading", name="End Marketplace and delete it?")).to_be_focused()
    page.get_by_role("button", name="End and delete it").click()
    said = page.locator(".flash-list")
    expect(said).to_be_focused()
    expect(said).to_have_text("That conversation has been ended and deleted.")

    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Delete your account")).to_be_focused()
    page.get_by_label("Your password").fill(PASSWORD)
    # Without the tick the browser asks for it, and the password stays (it came back empty).
    page.get_by_role("button", name="Delete my account for good").click()
    assert page.get_by_label("I understand").evaluate("box => box.validity.valueMissing")
    expect(page.get_by_label("Your password")).to_have_value(PASSWORD)
    expect(page.get_by_text("Tick this box")).to_have_count(0)  # nothing was posted
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Delete my account for good").click()
    expect(page.get_by_text("has been deleted")).to_be_visible()
    expect(page.locator(".flash-list")).to_be_focused()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
