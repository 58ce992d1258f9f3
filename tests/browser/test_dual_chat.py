"""A whole scene in headless Chromium: the offline partner and the fake Anthropic server each
play it to the end, the helper answers a question on the way, and the session ends up in the
history."""

import json
import re

import pytest
from django.conf import settings

from accounts.models import User
from chat.prompting import CONCLUDE_AT
from tests.browser.conftest import needs_chromium, watch_for_problems
from tests.support.fake_anthropic import FakeAnthropic, PlannedResponse, ToolUse

pytestmark = [pytest.mark.browser, needs_chromium]
PASSWORD = "Lerne-jeden-Tag-42"
FAKE_LINES = [f"Antwort Nummer {n}." for n in range(1, 7)]


def _fake_character(body: dict) -> PlannedResponse:
    """Answers by turn; closes the scene after the sixth learner message."""
    if "tools" not in body:  # the helper
        return PlannedResponse(text="„Kilo“ means kilogram.", token_delay=0.005)
    turns = sum(1 for m in body["messages"] if m["role"] == "user") - 1
    if turns > len(FAKE_LINES):
        return PlannedResponse(
            text="Tschüss, bis bald!",
            token_delay=0.005,
            tool_use=ToolUse("end_scenario", {"reason": "goodbye"}),
        )
    return PlannedResponse(text=FAKE_LINES[turns - 1], token_delay=0.005)


@pytest.fixture(params=["offline", "fake-anthropic"])
def partner(request):
    if request.param == "offline":
        shipped = settings.BASE_DIR / "scenarios" / "scenes" / "marketplace.json"
        script = json.loads(shipped.read_text())["offline_lines"]  # as the migration loaded it
        turns = (CONCLUDE_AT - 1) // 2  # the reply that is message 25 says the last line...
        # ...and with goals open, the learner's answer to it has a last word: its last sentence.
        last_word = re.split(r"(?<=[.!?…])\s+", script[-1])[-1]
        yield (
            {"ANTHROPIC_API_KEY": ""},
            [*script[: turns - 1], script[-1], last_word],
            "Offline mode",
        )
        return
    with FakeAnthropic(responder=_fake_character) as fake:
        yield (
            {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake.url},
            [*FAKE_LINES, "Tschüss, bis bald!"],
            None,
        )


@pytest.fixture
def daphne_env(partner):
    env, _, _ = partner
    return {**env, "CHAT_MESSAGES_PER_LEARNER": "100/minute"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_whole_scene_with_a_question_to_the_helper(daphne_server, browser, partner):
    from playwright.sync_api import expect

    _, lines, banner = partner
    User.objects.create_user("dora@example.com", PASSWORD)
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(15_000)
    problems = watch_for_problems(page)

    page.goto(f"{daphne_server}/login/")
    page.get_by_label("Email").fill("dora@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Start Marketplace").click()

    german = page.locator("#main-messages")
    expect(german).to_contain_text("ganz frisches Obst")
    if banner:
        expect(page.get_by_text(banner)).to_be_visible()
    box = page.get_by_label("Your message, in German")
    # Named as the picker names it, and as what it does ("End scene…" said neither that it
    # deletes the scene nor that it is the picker's "End and delete it…": a newcomer's walk).
    end_scene = page.get_by_role("link", name="End and delete…")
    expect(end_scene).to_be_visible()
    for turn, line in enumerate(lines, start=1):
        box.fill(f"Das ist meine Antwort {turn}.")
        box.press("Enter")
        expect(german.locator(".msg-user").last).to_contain_text(f"Das ist meine Antwort {turn}.")
        expect(german.locator(".msg-scenario").last).to_contain_text(line)
        if turn < len(lines):
            expect(box).to_have_value("")  # cleared once the server had the message
        if turn == 1:  # a question to the helper along the way
            question = page.get_by_label("Your question for the helper")
            question.fill("What does Kilo mean?")
            question.press("Enter")
            helper = page.locator("#helper-messages")
            expect(helper.locator(".msg-user")).to_contain_text("What does Kilo mean?")
            expect(helper.locator(".msg-helper")).to_have_count(2)  # the opener and the answer

    # Answers that reach no goal: the scene is complete, not cheered (offline, the answer to
    # the goodbye says goodbye only if it wishes it back).
    expect(page.get_by_role("heading", name="Scene complete", exact=True)).to_be_visible()
    expect(page.get_by_text("2 conversations left this week")).to_be_visible()
    expect(page.get_by_text("The role-play is over.")).to_be_visible()
    expect(end_scene).to_be_hidden()  # nothing to end once it is over
    # The report shows whole (no box to scroll inside), and the chat below keeps a readable
    # height and its newest line in view: it was squeezed to a strip under the report.
    report = page.locator("#completion")
    expect(report.get_by_role("link", name="Read the transcript")).to_be_visible()
    scroller = page.locator("#main-scroll")
    assert report.evaluate("e => e.scrollHeight <= e.clientHeight + 1")
    assert scroller.evaluate("e => e.clientHeight") >= 300
    assert scroller.evaluate("e => e.scrollHeight - e.scrollTop - e.clientHeight < 48")
    expect(box).to_have_count(0)  # the role-play takes no more messages...
    question = page.get_by_label("Your question for the helper")
    question.fill("What does Tschüss mean?")  # ...but the helper still answers
    question.press("Enter")
    expect(page.locator("#helper-messages .msg-helper")).to_have_count(3)
    expect(page.locator("#progress")).to_contain_text("Scene complete")
    page.get_by_role("link", name="Read the transcript").click()
    expect(page.locator(".msg-text", has_text=lines[-1]).last).to_be_visible()
    transcript = page.url.removeprefix(daphne_server)

    page.get_by_role("link", name="History", exact=True).click()
    expect(page.locator(f'a[href="{transcript}"]')).to_be_visible()
    assert problems == []
