"""The learner's journey in headless Chromium: sign up, start, come back, delete the account."""

import re
from pathlib import Path

import pytest

from accounts.models import User

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "Lerne-jeden-Tag-42"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"
    ),
]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sign_up_start_continue_and_delete_the_account(live_server):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, so the database is checked
    # only once the browser is gone.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems = _journey(browser.new_page(), live_server.url)
        finally:
            browser.close()
    assert problems == []
    assert not User.objects.filter(email="carla@example.com").exists()


def _journey(page, url: str) -> list[str]:
    from playwright.sync_api import expect

    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(url)
    page.get_by_role("link", name="Start practising").click()
    page.get_by_label("Email").fill("carla@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("3 of 3")).to_be_visible()

    page.get_by_role("button", name="Start Marketplace").click()
    expect(page).to_have_url(re.compile(r"/sessions/[0-9a-f-]+/$"))
    german = page.get_by_role("region", name="German")
    helper = page.get_by_role("region", name="Helper")
    expect(german).to_contain_text("ganz frisches Obst")
    expect(helper).to_contain_text("Frau Hoffmann")

    page.get_by_role("link", name="Practise").click()
    expect(page.get_by_role("link", name="Continue Marketplace")).to_be_visible()

    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Delete my account").click()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Delete my account for good").click()
    expect(page.get_by_text("has been deleted")).to_be_visible()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    return problems
