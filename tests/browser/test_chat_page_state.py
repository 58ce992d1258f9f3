"""The chat page tells the truth about its state, in headless Chromium: streamed text shown
once (also after a reload mid-reply), the connection, errors in view, the phone layout, the
other chat's new messages, and what a screen reader hears."""

import re
import uuid
from urllib.parse import quote, urlparse
from zoneinfo import ZoneInfo

import pytest

from accounts.models import User
from chat import conversations
from scenarios.models import Scenario
from tests.browser.conftest import needs_chromium, watch_for_problems
from tests.conftest import database_url
from tests.support.fake_anthropic import FakeAnthropic, PlannedResponse, lorem_text
from tests.support.logins import login_session_key
from tests.support.servers import daphne

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

REPLY = lorem_text(40)
KEEP_SELECTION = re.compile("^Keep selection.* in your deck$")  # an answer that quotes nothing

# Every text a streaming bubble shows, recorded as it changes.
RECORD_BUBBLES = """
window.shown = [];
new MutationObserver(function () {
  document.querySelectorAll(".is-streaming .msg-text").forEach(function (el) {
    window.shown.push(el.textContent);
  });
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def _report_ready(session, words) -> None:
    from chat.models import SceneReport
    from lib.rls import acting_as_staff

    with acting_as_staff():
        SceneReport.objects.update_or_create(
            session_id=session.pk,
            defaults={"status": "ready", "kind": "offline", "content": {"words": words}},
        )


def _open_chat(browser, url, viewport=None):
    user = User.objects.create_user("dora@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="marketplace"))
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
    context.add_cookies([{"name": "sessionid", "value": login_session_key(user), "url": url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.add_init_script(RECORD_BUBBLES)
    page.goto(f"{url}/sessions/{session.pk}/")
    return page, session


def _from_the_top(page):
    """Where a keyboard learner is after a first Tab from the page's start (the page opens with
    the focus in the box, and a blur leaves Chromium's Tab starting from there)."""
    page.locator("a.skip-link").first.focus()
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


@pytest.fixture
def slow_fake():
    with FakeAnthropic(PlannedResponse(text=REPLY, token_delay=0.04)) as fake:
        yield fake


@pytest.fixture
def daphne_env(request):
    if "slow_fake" in request.fixturenames:
        fake = request.getfixturevalue("slow_fake")
        return {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake.url}
    if request.node.name.startswith("test_errors_show_in_view"):
        return {"CHAT_MESSAGES_PER_LEARNER": "4/minute"}
    if request.node.name.startswith("test_wait_for_the_reply_goes_once"):
        return {"CHAT_MESSAGES_PER_LEARNER": "100/minute", "OFFLINE_TOKEN_DELAY": "0.3"}
    if request.node.name.startswith("test_asking_the_helper_about_a_line_keeps"):
        return {"CHAT_MESSAGES_PER_LEARNER": "100/minute", "OFFLINE_TOKEN_DELAY": "0.05"}
    if request.node.name.startswith("test_a_tab_over_the_limit"):
        return {"CHAT_SOCKETS_PER_SESSION": "1"}
    if request.node.name.startswith("test_the_page_shows_when_the_connection_is_lost"):
        return {"CHAT_MESSAGES_PER_LEARNER": "100/minute", "OFFLINE_TOKEN_DELAY": "0.1"}
    return {"CHAT_MESSAGES_PER_LEARNER": "100/minute"}


def _sent(session, chat: str | None = None) -> list[str]:
    """What the learner has sent in the session, read as the learner (row-level security: read
    as the app's role without it, there was nothing, and an assertion of none passed)."""
    from lib.rls import acting_as_learner

    with acting_as_learner(session.user_id):
        lines = session.messages.filter(role="user")
        if chat:
            lines = lines.filter(chat_type=chat)
        return list(lines.order_by("sent_at").values_list("content", flat=True))


def _send(page, chat, text):
    box = page.locator(f"#{chat}-input")
    box.fill(text)
    box.press("Enter")


def test_streamed_words_are_shown_once_also_after_a_reload(slow_fake, daphne_server, browser):
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server)
    problems = watch_for_problems(page)
    expect(page.locator("#connection")).to_contain_text("Connected")
    _send(page, "main", "Hallo!")
    expect(page.locator("#main-messages .msg-scenario").last).to_contain_text(REPLY)
    shown = page.evaluate("window.shown")
    assert shown and all(REPLY.startswith(text.rstrip("▍")) for text in shown), shown[:5]

    longer = lorem_text(150)  # six seconds: time for a reload mid-reply
    slow_fake.enqueue(PlannedResponse(text=longer, token_delay=0.04))
    _send(page, "main", "Noch einmal!")
    expect(page.locator("#main-live .is-streaming")).to_contain_text(longer.split()[3])
    page.reload()  # mid-reply: the bubble is drawn with the text so far, then goes on
    expect(page.locator("#main-messages .msg-scenario").last).to_contain_text(longer)
    shown = page.evaluate("window.shown")
    assert shown and all(longer.startswith(text) for text in shown), shown[:5]
    assert problems == []


def test_the_bubble_says_when_the_model_is_asked_again_until_it_answers(
    slow_fake, daphne_server, browser
):
    """An empty bubble for up to a minute while the model was asked again (the last note's left
    item): it says so, and stops saying so once the answer streams."""
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server)
    expect(page.locator("#connection")).to_contain_text("Connected")
    longer = lorem_text(150)  # six seconds of streaming
    slow_fake.enqueue(
        PlannedResponse(status=429, retry_after=2.0),
        PlannedResponse(text=longer, token_delay=0.04),
    )
    _send(page, "main", "Hallo!")
    note = page.locator("#main-live .is-streaming .msg-note")
    expect(note).to_have_text("No answer yet: asking again (try 2 of 3)…")
    expect(page.locator("#main-live .is-streaming .msg-text")).to_contain_text(longer.split()[2])
    assert not note.is_visible()  # at once, while the answer streams: it is coming
    assert page.locator("#main-live .is-streaming .msg-note").count() == 1  # still streaming
    expect(page.locator("#main-messages .msg-scenario").last).to_contain_text(longer)


def test_the_page_shows_when_the_connection_is_lost_and_loses_no_message(
    daphne_process, daphne_env, browser
):
    """A message sent while the connection is down waits in the box; changed there and sent
    again, it is a new message: the first goes out when the connection is back, and the
    changed text is neither dropped as a resend of it (it had the same id) nor wiped from the
    box by the first one's echo."""
    from playwright.sync_api import expect

    process, url = daphne_process
    page, session = _open_chat(browser, url)
    expect(page.locator("#connection")).to_contain_text("Connected")
    process.terminate()
    process.wait(15)
    expect(page.locator("#connection")).to_contain_text("Connection lost")
    _send(page, "main", "Hallo?")
    expect(page.locator("#main-error")).to_contain_text("as soon as the connection is back")
    expect(page.locator("#main-input")).to_have_value("Hallo?")  # nothing is lost
    _send(page, "main", "Hallo, ist da jemand?")

    port = int(url.rsplit(":", 1)[1])
    with daphne(database_url(), {"OFFLINE_TOKEN_DELAY": "0.1", **daphne_env}, port=port):
        learner = page.locator("#main-messages .msg-user")
        expect(learner).to_have_count(1)
        expect(learner).to_contain_text("Hallo?")
        # Its reply is on its way: the changed message waits in the box, said why.
        expect(page.locator("#main-error")).to_contain_text("Wait for the reply")
        expect(page.locator("#main-input")).to_have_value("Hallo, ist da jemand?")
        expect(page.locator("#main-messages .msg-scenario")).to_have_count(2)
        page.locator("#main-input").press("Enter")
        expect(learner).to_have_count(2)
        expect(learner.last).to_contain_text("Hallo, ist da jemand?")
        expect(page.locator("#main-input")).to_have_value("")
    stored = conversations.load(session.user_id, session.pk).in_chat("main")
    assert [m.content for m in stored if m.role == "user"] == ["Hallo?", "Hallo, ist da jemand?"]


def test_errors_show_in_view_and_a_reply_is_announced_once_with_its_speaker(daphne_server, browser):
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server)
    assert page.locator("#main-messages").get_attribute("aria-live") is None
    for turn in range(4):
        _send(page, "main", f"Antwort {turn}")
        expect(page.locator("#main-messages .msg-scenario")).to_have_count(turn + 2)
        expect(page.locator("#main-announce")).to_contain_text("Frau Hoffmann: ")
    _send(page, "main", "Noch eine")  # the fifth within a minute: over the limit
    error = page.locator("#main-error")
    expect(error).to_contain_text("very quickly")
    box = error.bounding_box()
    assert box and box["y"] + box["height"] <= 800  # in view at 1280 by 800


# The main chat's send button as a busy slot draws it, or back as it was.
BUSY = """busy => {
  const button = document.getElementById("main-send");
  button.textContent = busy ? "Replying…" : "Senden";
  button.classList.toggle("button-busy", busy);
}"""


FITS = "(b => b.scrollWidth <= b.clientWidth)(document.getElementById('main-send'))"


def test_the_phone_layout_keeps_the_text_box_on_screen(daphne_server, browser):
    from playwright.sync_api import expect

    phone = {"width": 390, "height": 844}
    page, _ = _open_chat(browser, daphne_server, viewport=phone)
    for turn in range(4):
        _send(page, "main", f"Das ist meine Antwort Nummer {turn}.")
        expect(page.locator("#main-messages .msg-scenario")).to_have_count(turn + 2)
    box = page.locator("#main-input").bounding_box()
    assert box and box["y"] + box["height"] <= phone["height"]
    # The chat scrolls inside its pane; the page itself has nothing below it or beside it.
    assert page.evaluate("document.documentElement.scrollHeight") <= phone["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= phone["width"]
    log_out = page.get_by_role("button", name="Log out").bounding_box()
    assert log_out and log_out["height"] < 2 * 16  # one line, not "Log / out"
    header = page.locator(".chat-header").bounding_box()
    assert header and header["height"] <= 0.25 * phone["height"]
    # It says when the scene ends, shorter (it said "5 of 30 messages": the last note; then
    # "9 of 30 messages · ends by 25", two lengths: a newcomer's walk), and what offline
    # means (it said "Offline mode." alone: a newcomer's walk).
    expect(page.locator(".progress-note")).to_have_text(
        "9 messages · ends by 27", use_inner_text=True
    )
    offline = page.locator(".banner-offline")
    expect(offline).to_have_text("Offline mode: scripted lines, no AI.", use_inner_text=True)
    page.screenshot(path="/tmp/phone.png")
    # The text box keeps its width while the button says "Replying…" (it narrowed), and the
    # label fits the button.
    for size in (phone, {"width": 1280, "height": 800}):
        page.set_viewport_size(size)
        width = page.locator("#main-input").bounding_box()["width"]
        for busy in (True, False):
            page.evaluate(BUSY, busy)
            assert page.locator("#main-input").bounding_box()["width"] == width
            assert page.evaluate(FITS)
    page.set_viewport_size(phone)

    # The helper's greeting, with the first tip, is new until its tab is opened (it sat
    # unseen behind it: a newcomer's walk); then a helper answer from another tab marks the
    # hidden helper tab as new.
    unread = page.locator('.chat-tabs button[aria-controls="pane-helper"] .unread')
    expect(unread).to_be_visible()
    page.get_by_role("button", name="Helper").click()
    page.get_by_role("button", name="Role-play").click()
    expect(unread).to_be_hidden()
    other = page.context.new_page()
    other.goto(page.url)
    other.get_by_role("button", name="Helper").click()
    _send(other, "helper", "What does 'Nummer' mean?")
    expect(unread).to_be_visible()
    page.get_by_role("button", name="Helper").click()
    expect(unread).to_be_hidden()
    expect(page.locator("#helper-input")).to_be_visible()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_goals_sit_inside_the_role_plays_pane(daphne_server, browser, width):
    """Their box lay on the pane's border, a pixel past its edge (a newcomer's walk)."""
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server, viewport={"width": width, "height": 800})
    # Measured once the sync has drawn the page again (it swaps the goals box in).
    page.wait_for_function("() => document.getElementById('chat').dataset.synced === 'yes'")
    expect(page.locator(".chat-pane-main > .goals")).to_be_visible()
    goals = page.locator(".chat-pane-main > .goals").bounding_box()
    pane = page.locator("#pane-main").bounding_box()
    assert goals["x"] >= pane["x"] + 4
    assert goals["x"] + goals["width"] <= pane["x"] + pane["width"] - 4
    page.context.close()


def test_the_keyboard_reaches_the_message_box_from_the_top_of_the_page(daphne_server, browser):
    """Every line's buttons come before the box: it took 14 Tabs at a scene's start, about 60
    at its end (a newcomer's walk)."""
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server)
    page.wait_for_function("() => document.getElementById('chat').dataset.synced === 'yes'")
    _from_the_top(page)
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to your message")
    expect(page.locator(":focus")).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("#main-input")).to_be_focused()
    page.keyboard.type("Hallo!")
    expect(page.locator("#main-input")).to_have_value("Hallo!")
    # On a phone showing the helper's tab, the role-play's tab is shown first.
    page.set_viewport_size({"width": 390, "height": 800})
    page.get_by_role("button", name="Helper").click()
    expect(page.locator("#main-input")).to_be_hidden()
    page.locator(".skip-to-box").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#main-input")).to_be_focused()
    expect(page.locator("#main-input")).to_be_visible()
    page.context.close()


def test_at_200_percent_zoom_the_messages_keep_a_readable_height(daphne_server, browser):
    """1280 by 800 at 200 %: the header, goals and box left 62 px for the messages, one line's
    buttons and no text (a newcomer's walk). The page scrolls instead."""
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server, viewport={"width": 640, "height": 400})
    page.wait_for_function("() => document.getElementById('chat').dataset.synced === 'yes'")
    assert page.locator("#pane-main .messages").bounding_box()["height"] >= 200
    page.locator(".skip-to-box").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#main-input")).to_be_focused()
    expect(page.locator("#main-input")).to_be_in_viewport()
    # A draft of eight lines left a sliver of the messages (the recheck).
    for line in range(8):
        page.keyboard.type(f"Zeile {line}")
        page.keyboard.press("Shift+Enter")
    assert page.locator("#pane-main .messages").bounding_box()["height"] >= 150
    page.set_viewport_size({"width": 1280, "height": 800})  # at 100 %, the page does not scroll
    assert page.evaluate("document.documentElement.scrollHeight") <= 800
    page.context.close()


def test_in_a_short_window_the_goals_box_shows_whole_lines(daphne_server, browser):
    """At 200 % it scrolled in 3.6rem and showed its second row cut in half (a newcomer's
    recheck)."""
    page, _ = _open_chat(browser, daphne_server, viewport={"width": 420, "height": 400})
    page.wait_for_function("() => document.getElementById('chat').dataset.synced === 'yes'")
    for width, scrolled in ((420, 0), (420, 13), (420, 30), (640, 0), (1000, 0)):
        page.set_viewport_size({"width": width, "height": 400})
        if scrolled:  # by a wheel, say, then at rest (a row was cut: the recheck)
            page.evaluate(
                """top => new Promise(done => {
                  document.querySelector("#pane-main > .goals").scrollTo({top: top});
                  requestAnimationFrame(() => requestAnimationFrame(done));
                })""",
                scrolled,
            )
        lines = page.evaluate(
            """() => {
              const box = document.querySelector("#pane-main > .goals");
              const top = box.getBoundingClientRect().top + box.clientTop;
              const shownBottom = top + box.clientHeight;  // scrolled text shows in the padding
              const rows = new Map();  // the lines of text, by where they end
              const texts = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
              while (texts.nextNode()) {
                const range = document.createRange();
                range.selectNodeContents(texts.currentNode);
                for (const rect of range.getClientRects()) {
                  if (rect.height > 0) rows.set(Math.round(rect.bottom), rect);
                }
              }
              const all = [...rows.values()];
              return {
                scrolls: box.scrollHeight > box.clientHeight,
                cut: all.filter(row => (row.top < shownBottom - 1 && row.bottom > shownBottom + 1)
                                    || (row.top < top - 1 && row.bottom > top + 1))
                  .map(row => [row.top, row.bottom, top, shownBottom]),
                shown: all.filter(row => row.bottom <= shownBottom + 1).length,
              };
            }"""
        )
        assert lines["cut"] == [], (width, scrolled, lines)
        assert lines["shown"] >= 3 or scrolled, (width, lines)  # the title and two rows
        assert lines["scrolls"] or width > 420, (width, lines)
    page.context.close()


def test_a_goal_reached_out_of_sight_in_the_goals_box_is_scrolled_into_view(daphne_server, browser):
    """The box went back to its top at each tick, and a goal reached below its two rows was
    ticked out of sight, with nothing saying so (a newcomer's recheck)."""
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server, viewport={"width": 420, "height": 400})
    page.wait_for_function("() => document.getElementById('chat').dataset.synced === 'yes'")
    goals = page.locator("#goals")
    expect(goals.locator(".goals-count")).to_have_text("· 0 of 4 reached")
    third = goals.locator(".goal").nth(2)  # "Say that's everything", below the box's fold
    assert not _inside(goals, third)
    page.locator("#main-input").fill("Das ist alles, danke.")
    page.locator("#main-input").press("Enter")
    expect(goals.locator(".goals-count")).to_have_text("· 1 of 4 reached")
    expect(goals.locator(".goal").nth(2)).to_have_class(re.compile("goal-reached"))
    assert _inside(goals, goals.locator(".goal").nth(2))
    # No further than it takes, and the title with its count stays in view (the recheck).
    assert goals.evaluate("box => box.scrollTop") == goals.locator(".goal").first.evaluate(
        "row => row.getBoundingClientRect().height"
    )
    assert _inside(goals, goals.locator(".goals-count"))
    title, first = (goals.locator(sel).bounding_box() for sel in (".goals-title", ".goal >> nth=0"))
    assert first["y"] + first["height"] <= title["y"] + title["height"] + 1  # under the title
    page.context.close()


def _inside(box, item) -> bool:
    outer, inner = box.bounding_box(), item.bounding_box()
    return (
        outer["y"] - 1 <= inner["y"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1
    )


def test_sending_with_the_keyboard_on_the_button_leaves_the_focus_in_the_box(
    daphne_server, browser
):
    """The button is drawn again as "Replying…" and the focus fell to the page's top, the
    next Tab somewhere else (a newcomer's walk)."""
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server)
    page.wait_for_function("() => document.getElementById('chat').dataset.synced === 'yes'")
    for chat, key, text in (("main", "Enter", "Hallo!"), ("helper", " ", "What is Obst?")):
        page.locator(f"#{chat}-input").fill(text)
        page.locator(f"#{chat}-send").focus()
        page.keyboard.press(key)
        expect(page.locator(f"#{chat}-messages .msg-user").last).to_contain_text(text)
        expect(page.locator(f"#{chat}-input")).to_be_focused()
        expect(page.locator(f"#{chat}-input")).to_have_value("")
    page.context.close()


def test_a_tab_over_the_limit_connects_once_another_closes(daphne_server, browser):
    """It stayed closed until a reload: a rolling restart brings another process's tabs to
    one, where the last few are over its limit (the attacker's replay)."""
    from playwright.sync_api import expect

    first, session = _open_chat(browser, daphne_server)
    expect(first.locator("#connection")).to_contain_text("Connected")
    second = first.context.new_page()
    second.clock.install()
    second.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(second.locator("#connection")).to_contain_text("open in too many tabs")
    # Each try in between is let in and turned away at once: it said "Connected" meanwhile
    # (the recheck).
    second.evaluate(
        """() => {
          window.saidConnected = false;
          new MutationObserver(function () {
            if (/Connected/.test(document.getElementById("connection").textContent)) {
              window.saidConnected = true;
            }
          }).observe(document.getElementById("connection"),
                     {subtree: true, childList: true, characterData: true});
        }"""
    )
    with second.expect_websocket() as another_try:
        second.clock.fast_forward(10_000)
    another_try.value.wait_for_event("close")
    expect(second.locator("#connection")).to_contain_text("open in too many tabs")
    assert not second.evaluate("window.saidConnected")
    first.close()
    second.clock.fast_forward(10_000)
    expect(second.locator("#connection")).to_contain_text("Connected")
    second.context.close()


def test_wait_for_the_reply_stays_until_the_other_tabs_reply_is_over(daphne_server, browser):
    """Two tabs on two processes send at once: the one refused may hear "Wait for the reply"
    before the other tab's message and its reply on their way come through Redis. The
    message's frame emptied the note, which was never seen (the attacker's replay)."""
    from playwright.sync_api import expect

    from chat import frames
    from chat.models import Message
    from chat.refusals import ReplyInFlight

    page, session = _open_chat(browser, daphne_server)
    sockets = _closable_sockets_counting_syncs(page)
    page.reload()
    page.wait_for_function("() => window.syncs === 1")
    other_tabs = Message(
        id=uuid.uuid4(), session_id=session.pk, chat_type="main", role="user", content="Zwei Äpfel!"
    )
    note = page.locator("#main-error")
    sockets[-1].send(frames.notice("main", str(ReplyInFlight()), until_reply=True))
    sockets[-1].send(frames.learner_message(other_tabs, "Frau Hoffmann", 2))
    expect(page.locator("#main-messages")).to_contain_text("Zwei Äpfel!")
    expect(note).to_have_text(str(ReplyInFlight()))
    sockets[-1].send(frames.slot("main", frames.Slot("waiting")))
    expect(page.locator("#main-send")).to_be_disabled()
    expect(note).to_have_text(str(ReplyInFlight()))
    sockets[-1].send(frames.slot("main", frames.Slot("")))  # the reply is over
    expect(page.locator("#main-send")).to_be_enabled()
    expect(note).to_have_text("")
    page.context.close()


def test_wait_for_the_reply_goes_if_the_reply_was_over_before_it_came(daphne_server, browser):
    """The other tab's reply ended before this tab drew its chat busy: the note goes after a
    moment, instead of waiting for a busy chat that will not come."""
    from playwright.sync_api import expect

    from chat import frames
    from chat.refusals import ReplyInFlight

    page, _ = _open_chat(browser, daphne_server)
    sockets = _closable_sockets_counting_syncs(page)
    page.clock.install()
    page.reload()
    page.wait_for_function("() => window.syncs === 1")
    sockets[-1].send(frames.notice("main", str(ReplyInFlight()), until_reply=True))
    expect(page.locator("#main-error")).to_have_text(str(ReplyInFlight()))
    page.clock.fast_forward(4_000)
    expect(page.locator("#main-error")).to_have_text("")
    page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_once_the_role_play_closes_the_skip_link_goes_to_the_helpers_box(
    daphne_server, browser, width
):
    """It pointed at the role-play's box, gone once the scene ended while the page was open:
    the focus stayed on the link (the recheck)."""
    from django.template.loader import render_to_string
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server, viewport={"width": width, "height": 800})
    sockets = _closable_sockets_counting_syncs(page)
    page.reload()
    page.wait_for_function("() => window.syncs === 1")
    closed = render_to_string(
        "chat/partials/compose.html", {"chat": "main", "closed": True, "oob": True}
    )
    sockets[-1].send(closed)
    expect(page.locator("#main-input")).to_have_count(0)
    _from_the_top(page)
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to your message")
    page.keyboard.press("Enter")
    expect(page.locator("#helper-input")).to_be_focused()
    expect(page.locator("#helper-input")).to_be_visible()  # its tab shown on a phone
    page.context.close()


def test_wait_for_the_reply_said_by_the_page_goes_as_the_chat_is_free(daphne_server, browser):
    """Said by the page itself (Enter on a busy chat), it stayed 3 s after the reply, and
    through the reply to the learner's next message (the recheck)."""
    from playwright.sync_api import expect

    from chat import frames

    page, _ = _open_chat(browser, daphne_server)
    sockets = _closable_sockets_counting_syncs(page)
    page.reload()
    page.wait_for_function("() => window.syncs === 1")
    sockets[-1].send(frames.slot("main", frames.Slot("waiting")))
    expect(page.locator("#main-send")).to_be_disabled()
    page.locator("#main-input").fill("Noch etwas?")
    page.locator("#main-input").press("Enter")
    note = page.locator("#main-error")
    expect(note).to_have_text("Wait for the reply before sending the next message.")
    sockets[-1].send(frames.slot("main", frames.Slot("")))
    expect(note).to_have_text("", timeout=1500)  # at once, not after 3 s
    page.context.close()


def test_wait_for_the_reply_goes_once_the_learners_next_message_is_stored(daphne_server, browser):
    """A note whose reply was over before this tab drew the chat busy stayed through the
    learner's next message and its reply (the recheck)."""
    from playwright.sync_api import expect

    from chat import frames
    from chat.refusals import ReplyInFlight

    page, _ = _open_chat(browser, daphne_server)
    sockets = _closable_sockets_counting_syncs(page)
    page.reload()
    page.wait_for_function("() => window.syncs === 1")
    page.locator("#main-input").fill("Zwei Äpfel, bitte.")  # typing would empty the note
    sockets[-1].send(frames.notice("main", str(ReplyInFlight()), until_reply=True))
    note = page.locator("#main-error")
    expect(note).to_have_text(str(ReplyInFlight()))
    page.locator("#main-input").press("Enter")
    expect(page.locator("#main-messages .msg-user")).to_contain_text("Zwei Äpfel, bitte.")
    expect(note).to_have_text("", timeout=1500)
    expect(page.locator("#main-live .is-streaming")).to_be_visible()  # during its reply
    page.context.close()


def test_deleting_the_account_elsewhere_says_so(daphne_server, browser):
    """It said "You are logged out. Log in again to go on with this scene", of a scene gone
    with the account (a newcomer's walk)."""
    from playwright.sync_api import expect

    user = User.objects.create_user("dora@example.com", "a long enough passphrase")
    session = conversations.start(user.pk, Scenario.objects.get(code="marketplace"))
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
    )
    page = context.new_page()
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(page.locator("#connection")).to_contain_text("Connected")
    page.locator("#main-input").fill("Ein halber Entwurf")
    other = context.new_page()
    other.goto(f"{daphne_server}/account/delete/")
    other.evaluate("""() => sessionStorage.setItem("maraum-draft /sessions/x/ main", "{}")""")
    other.get_by_label("Your password").fill("a long enough passphrase")
    other.get_by_label("I understand").check()
    other.get_by_role("button", name="Delete my account for good").click()
    expect(other.locator("main")).to_contain_text("everything in it has been deleted")
    assert other.evaluate(DRAFTS) == []  # the drafts of the tab it was deleted in
    expect(page.locator("#connection")).to_contain_text(
        "Your account has been deleted, and this conversation with it."
    )
    expect(page.get_by_role("link", name="Log in again")).to_have_count(0)
    # Its draft went, said as what happened (it said "You logged out in another tab"), and
    # the empty box says it cannot send, not "Write a message first." (a newcomer's walk).
    expect(page.locator("#main-error")).to_have_text(
        "Your account was deleted in another tab: what you had typed here was cleared with it."
    )
    expect(page.locator("#main-input")).to_have_value("")
    page.locator("#main-input").press("Enter")
    expect(page.locator("#main-error")).to_have_text(
        "This page cannot send any more. Your account has been deleted, and this conversation "
        "with it. Maraum's home page"
    )
    page.context.close()


def test_a_report_word_kept_after_the_account_went_elsewhere_does_not_ask_to_log_in(
    daphne_server, browser
):
    """A Keep pressed in a deleted account's report changed nothing beside it, and the page
    said "You are logged out. Log in again to go on with this scene", of an account there
    is no more (a newcomer's walk)."""
    from playwright.sync_api import expect

    from scenarios import lifecycle

    user = User.objects.create_user("edda@example.com", "a long enough passphrase")
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    lifecycle.complete_session(user.pk, session.pk, main_messages=16, ended_by="model")
    _report_ready(session, [{"german": "das Brötchen", "gloss": "the bread roll"}])
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
    )
    page = context.new_page()
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    keep = page.locator(".report-words li").first.get_by_role("button")
    expect(keep).to_be_enabled()
    expect(page.locator("#connection")).to_contain_text("Connected")
    other = context.new_page()
    other.goto(f"{daphne_server}/account/delete/")
    other.get_by_label("Your password").fill("a long enough passphrase")
    other.get_by_label("I understand").check()
    other.get_by_role("button", name="Delete my account for good").click()
    expect(other.locator("main")).to_contain_text("everything in it has been deleted")
    gone = "Your account has been deleted, and this conversation with it."
    expect(page.locator("#connection")).to_contain_text(gone)
    expect(keep).to_be_disabled()
    # Every other button too (a newcomer's recheck: "Keep words" and "Explain" were on), but
    # the boxes', which say nothing can be sent; and no scenes left this week.
    live = page.locator("#chat button:enabled:not(.chat-tabs button):not(form.compose button)")
    expect(live).to_have_count(0)
    expect(page.locator(".scenes-left")).to_be_hidden()
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    expect(page.get_by_role("link", name="Account")).to_be_hidden()
    keep.evaluate("button => button.form.requestSubmit()")  # as if still pressed
    expect(page.locator("#connection")).to_contain_text(gone)
    expect(page.get_by_role("link", name="Log in again")).to_have_count(0)
    context.close()


def test_a_conversation_deleted_in_another_tab_says_so_there_and_at_its_address(
    daphne_server, browser
):
    """The other tab still offered "End and delete…", said "This page cannot send any more:
    This conversation …", and reloaded, "We couldn't find that page" (a newcomer's walk)."""
    from playwright.sync_api import expect

    page, session = _open_chat(browser, daphne_server)
    expect(page.locator("#connection")).to_contain_text("Connected")
    other = page.context.new_page()
    other.goto(f"{daphne_server}/sessions/{session.pk}/")
    other.get_by_role("link", name="End and delete…").click()
    other.get_by_role("button", name="End and delete it").click()
    expect(other.locator("main")).to_contain_text("That conversation has been ended and deleted.")
    expect(page.locator("#connection")).to_contain_text("This conversation is no longer available.")
    expect(page.get_by_role("link", name="End and delete…")).to_have_count(0)
    _send(page, "main", "Hallo?")
    expect(page.locator("#main-error")).to_have_text(
        "This page cannot send any more. This conversation is no longer available. Back to scenes"
    )
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "This conversation was ended and deleted"
    )
    page.context.close()


def test_a_new_password_keeps_this_browsers_chat_and_ends_the_others(daphne_server, browser):
    """Its pages closed with "Log in again" though their login held (4401 for every new
    password): the chat pages of the browser that chose it connect again and go on."""
    from playwright.sync_api import expect

    user = User.objects.create_user("dora@example.com", "a long enough passphrase")
    session = conversations.start(user.pk, Scenario.objects.get(code="marketplace"))
    pages = []
    for _ in range(2):  # this browser, and another one
        context = browser.new_context()
        context.add_cookies(
            [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
        )
        page = context.new_page()
        _closable_sockets_counting_syncs(page)
        page.goto(f"{daphne_server}/sessions/{session.pk}/")
        page.wait_for_function("() => window.syncs === 1")
        pages.append(page)
    this, elsewhere = pages
    account = this.context.new_page()
    account.goto(f"{daphne_server}/account/password/")
    account.get_by_label("Your current password").fill("a long enough passphrase")
    account.get_by_label("New password", exact=True).fill("another long passphrase")
    account.get_by_label("New password confirmation").fill("another long passphrase")
    account.get_by_role("button", name="Save the new password").click()
    expect(account.get_by_text("Your password is changed.")).to_be_visible()
    expect(elsewhere.locator("#connection")).to_contain_text("You are logged out.")
    this.wait_for_function("() => window.syncs === 2")  # connected again
    expect(this.locator("#connection")).to_contain_text("Connected")
    _send(this, "helper", "Was heißt Apfel?")
    expect(this.locator("#helper-messages .msg-user")).to_contain_text("Was heißt Apfel?")
    for page in pages:
        page.context.close()


def test_logging_out_elsewhere_says_so_and_sends_nothing(daphne_server, browser):
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server)
    expect(page.locator("#connection")).to_contain_text("Connected")
    page.locator("#main-input").fill("Ich wohne in der Hauptstra\u00dfe 5.")
    other = page.context.new_page()
    other.goto(daphne_server)
    other.get_by_role("button", name="Log out").click()
    expect(page.locator("#connection")).to_contain_text("You are logged out.")
    expect(page.locator("#main-input")).to_have_value("")  # test_logging_out_forgets_…
    expect(page.get_by_role("link", name="Log in again")).to_be_visible()
    # Nor the links of a login there is no more (a newcomer's walk): a "Log in", back here.
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_count(1)
    expect(nav.get_by_role("link", name="Log in")).to_have_attribute(
        "href", f"/login/?next={quote(urlparse(page.url).path, safe='')}"
    )
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    _send(page, "main", "Hallo?")
    # Not "cannot send any more": a login sends it (the recheck).
    expect(page.locator("#main-error")).to_contain_text("Not sent. You are logged out.")
    expect(page.locator("#main-error").get_by_role("link", name="Log in again")).to_be_visible()
    expect(page.locator("#main-input")).to_have_value("Hallo?")


def _chat_of(browser, url, user):
    """`user`'s marketplace scene, connected, in a browser logged in as them."""
    from playwright.sync_api import expect

    session = conversations.start(user.pk, Scenario.objects.get(code="marketplace"))
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": login_session_key(user), "url": url}])
    page = context.new_page()
    page.goto(f"{url}/sessions/{session.pk}/")
    expect(page.locator("#connection")).to_contain_text("Connected")
    return page


def test_logging_in_again_elsewhere_connects_a_page_the_log_out_closed(daphne_server, browser):
    """Logged in again in another tab, a chat page still said "You are logged out" until its
    link was followed (a newcomer's walk): it connects again, and sends."""
    from playwright.sync_api import expect

    user = User.objects.create_user("dora@example.com", "eine lange Passphrase")
    page = _chat_of(browser, daphne_server, user)
    other = page.context.new_page()
    other.goto(daphne_server)
    other.get_by_role("button", name="Log out").click()
    expect(page.locator("#connection")).to_contain_text("You are logged out.")
    other.goto(f"{daphne_server}/login/")
    other.get_by_label("Email").fill("dora@example.com")
    other.get_by_label("Password").fill("eine lange Passphrase")
    other.get_by_role("button", name="Log in").click()
    expect(other.get_by_role("link", name="Log out")).to_have_count(0)  # (a button)
    expect(page.locator("#connection")).to_contain_text("Connected")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()  # its links are back
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")
    ).to_have_count(0)
    _send(page, "helper", "Was hei\u00dft Apfel?")
    expect(page.locator("#helper-messages .msg-user")).to_contain_text("Was hei\u00dft Apfel?")
    page.context.close()


def test_another_account_logged_in_elsewhere_is_told_apart_from_a_conversation_gone(
    daphne_server, browser
):
    """Logged out and in as another learner in another tab, the chat page said "This
    conversation is no longer available", of a conversation that is there (the last note's
    left item). It says another account is logged in; its learner logging in again goes on."""
    from playwright.sync_api import expect

    for email in ("dora@example.com", "emil@example.com"):
        User.objects.create_user(email, "eine lange Passphrase")
    page = _chat_of(browser, daphne_server, User.objects.get(email="dora@example.com"))
    other = page.context.new_page()

    def log_out():
        other.goto(daphne_server)
        other.get_by_role("button", name="Log out").click()
        expect(other.get_by_role("button", name="Log out")).to_have_count(0)

    def log_in_as(email):
        other.goto(f"{daphne_server}/login/")
        other.get_by_label("Email").fill(email)
        other.get_by_label("Password").fill("eine lange Passphrase")
        other.get_by_role("button", name="Log in").click()
        expect(other.get_by_role("button", name="Log out")).to_be_visible()

    log_out()
    log_in_as("emil@example.com")
    expect(page.locator("#connection")).to_contain_text(
        "You are logged in as another account in this browser now"
    )
    expect(page.locator("#connection")).not_to_contain_text("no longer available")
    expect(page.get_by_role("link", name="End and delete…")).to_be_visible()
    # That one logging out too, the page says so; a message is not sent, not "any more".
    log_out()
    expect(page.locator("#connection")).to_contain_text("You are logged out.")
    _send(page, "helper", "Hallo?")
    expect(page.locator("#helper-error")).to_contain_text("Not sent. You are logged out.")
    log_in_as("dora@example.com")
    expect(page.locator("#connection")).to_contain_text("Connected")
    _send(page, "helper", "Was hei\u00dft Apfel?")
    expect(page.locator("#helper-messages .msg-user")).to_contain_text("Was hei\u00dft Apfel?")
    page.context.close()


def test_a_long_message_is_never_cut_and_a_busy_chat_says_why_it_waits(
    slow_fake, daphne_server, browser
):
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server)
    expect(page.locator("#connection")).to_contain_text("Connected")
    box = page.locator("#main-input")
    box.fill("   ")
    box.press("Enter")  # nothing to send: said so, not silently ignored
    expect(page.locator("#main-error")).to_contain_text("Write a message first.")
    long_text = "Ich hätte gern Tomaten. " * 50  # 1,200 characters
    box.fill(long_text)
    expect(page.locator("#main-form .counter")).to_contain_text("1,199 / 1,000")
    box.press("Enter")
    expect(page.locator("#main-error")).to_contain_text(
        "the limit is 1,000. Shorten it by 199 characters, or send it in parts."
    )
    expect(box).to_have_value(long_text)  # nothing cut, nothing sent

    _send(page, "main", "Hallo!")
    expect(page.locator("#main-live .is-streaming")).to_be_visible()
    _send(page, "main", "Noch etwas?")
    expect(page.locator("#main-error")).to_contain_text("Wait for the reply")
    expect(box).to_have_value("Noch etwas?")
    # Once the reply is in, the chat can send again, and the note has gone.
    expect(page.locator("#main-send")).to_be_enabled(timeout=30_000)
    expect(page.locator("#main-error")).to_have_text("")


def test_a_long_conversation_opens_at_its_newest_message_before_the_socket_opens(
    daphne_server, browser
):
    """On a phone the page showed the top of the conversation while connecting, then jumped
    to the newest message once the sync came (found by the newcomer's walk)."""
    import re

    from playwright.sync_api import expect

    from tests.conftest import add_message

    user = User.objects.create_user("dora@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="marketplace"))
    for number in range(15):
        add_message(session, "user", "main", f"Das ist meine Antwort Nummer {number}.")
        add_message(session, "scenario", "main", f"Gut, und was noch? ({number})")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_cookies(
        [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
    )
    page = context.new_page()
    page.route_web_socket(re.compile(r"/ws/"), lambda socket: socket.close())  # never opens
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_load_state("load")
    expect(page.locator("#connection")).to_contain_text("Reconnecting")
    scroller = page.locator("#main-scroll")
    assert scroller.evaluate("el => el.scrollHeight > el.clientHeight")  # it does scroll
    assert scroller.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight < 2")
    context.close()


def test_words_not_sent_when_the_scene_ends_in_another_tab_stay_for_the_helper(
    daphne_server, browser
):
    """The role-play's box went with the scene, and the words typed in it (on a phone, say,
    while the scene ended on the laptop) were lost (found by the newcomer's walk). They are
    shown where the focus goes, and a long draft still makes a question the helper box takes."""
    from playwright.sync_api import expect

    from chat import prompting
    from tests.conftest import add_message

    phone, session = _open_chat(browser, daphne_server, viewport={"width": 390, "height": 844})
    for number in range(prompting.HARD_CAP - 2):
        add_message(session, "user" if number % 2 == 0 else "scenario", "main", f"Satz {number}")
    phone.reload()
    laptop = phone.context.new_page()
    laptop.goto(f"{daphne_server}/sessions/{session.pk}/")
    for page in (phone, laptop):
        expect(page.locator("#connection")).to_contain_text("Connected")
    draft = ("Und noch zwei Äpfel, bitte. " * 36)[:1000].strip()  # as long as the box takes
    phone.locator("#main-input").fill(draft)

    _send(laptop, "main", "Danke, tschüss!")  # the message that fills the scene

    for page in (phone, laptop):
        expect(page.locator("#main-form")).to_contain_text("The role-play is over")
    expect(phone.locator("#completion")).to_be_focused()
    expect(phone.locator("#completion .unsent q")).to_have_text(draft)
    expect(phone.locator("#completion .unsent q")).to_be_in_viewport()
    expect(laptop.locator(".unsent")).to_have_count(0)  # its words were sent
    phone.get_by_role("button", name="Ask the helper about it").click()
    helper_box = phone.locator("#helper-input")
    expect(helper_box).to_be_visible()
    expect(helper_box).to_be_focused()
    question = helper_box.input_value()
    assert question.startswith("I wanted to say: „Und noch zwei Äpfel") and question.endswith("…“")
    assert len(question) == 1000  # cut to what the box sends
    helper_box.press("Enter")
    expect(phone.locator("#helper-messages .msg").last).to_contain_text("I wanted to say")
    expect(phone.locator("#helper-error")).to_have_text("")


def test_a_reply_dropped_elsewhere_leaves_the_stream_of_the_reply_that_answers(
    slow_fake, daphne_server, browser
):
    """A process that woke from a long freeze found its reply's claim gone and drew the reply
    as on its way in every tab, over the stream the process holding the claim was sending
    (found by the attacker's replay). The dropped reply's frame, as that process sends it, is
    swapped in here as the socket would."""
    from playwright.sync_api import expect

    from chat import frames

    page, _ = _open_chat(browser, daphne_server)
    expect(page.locator("#connection")).to_contain_text("Connected")
    _send(page, "main", "Hallo!")
    streaming = page.locator("#main-live .is-streaming")
    expect(streaming).to_be_visible()
    answering = streaming.get_attribute("id").removeprefix("reply-")

    def dropped(reply_id: str) -> None:
        frame = frames.slot("main", frames.Slot("waiting", ends=reply_id))
        page.evaluate("frame => htmx.swap('#main-live', frame, {swapStyle: 'none'})", frame)

    dropped("a-reply-another-process-dropped")
    expect(page.locator("#main-live .is-waiting")).to_have_count(0)
    expect(streaming).to_be_visible()
    dropped(answering)  # the reply shown is the one dropped: drawn as on its way
    expect(page.locator("#main-live .is-waiting")).to_be_visible()


def test_on_a_phone_the_counter_shows_as_a_message_nears_its_limit(daphne_server, browser):
    """The counter sat in the keyboard hint, which a phone hides: a learner learnt of the limit
    only from the refusal after sending (the newcomer's walk)."""
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server, viewport={"width": 390, "height": 844})
    expect(page.locator("#connection")).to_contain_text("Connected")
    expect(page.locator("#main-hint")).to_be_hidden()  # the keyboard hint: no use on a phone
    page.locator("#main-input").fill("Ich hätte gern Tomaten. " * 43)  # 1,032 characters
    expect(page.locator("#main-form .counter")).to_be_visible()
    expect(page.locator("#main-form .counter")).to_contain_text("1,031 / 1,000")


def _long_helper_chat(browser, url, questions: int):
    """A page (not opened yet) of a learner whose helper chat holds `questions` numbered
    questions and answers after its opening line: "Frage 0", "Frage 1", …"""
    from tests.conftest import add_message

    user = User.objects.create_user("dora@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="marketplace"))
    for number in range(questions):
        add_message(session, "user" if number % 2 == 0 else "helper", "helper", f"Frage {number}")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "sessionid", "value": login_session_key(user), "url": url}])
    return context.new_page(), session


def _closable_sockets_counting_syncs(page) -> list:
    """The page's websockets as they open (relayed, so a test can close one), and a count of
    the syncs the page has drawn in `window.syncs`."""
    import re

    sockets = []

    def relay(socket):
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(re.compile(r"/ws/"), relay)
    page.add_init_script(
        """
        window.syncs = 0;
        document.addEventListener("htmx:wsAfterMessage", function (event) {
          if (String(event.detail.message).indexOf('data-frame="sync"') !== -1) window.syncs += 1;
        });
        """
    )
    return sockets


def _sockets_the_server_may_refuse(page) -> tuple[list, dict]:
    """The page's websockets as they open (relayed, so a test can close one), and a switch:
    while `blocked["on"]`, each new one is closed at once, as by a server that is away."""
    sockets, blocked = [], {"on": False}

    def relay(socket):
        if blocked["on"]:
            socket.close(code=1012)
            return
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(re.compile(r"/ws/"), relay)
    return sockets, blocked


def _reconnect_while_held(page, sockets, held: list, on_its_way: str):
    """With a request on its way (`on_its_way`: a selector of its element) and held (its route
    in `held`), the socket closes and the page syncs again; the request's route is returned,
    to answer."""
    from playwright.sync_api import expect

    page.wait_for_function(f"() => document.querySelector('{on_its_way} .htmx-request')")
    syncs = page.evaluate("window.syncs")
    sockets[-1].close(code=1012)
    page.wait_for_function(f"() => window.syncs === {syncs + 1}")
    expect(page.locator("#connection")).to_contain_text("Connected")
    while not held:  # the route's handler runs as Playwright hears of the request
        page.wait_for_timeout(10)
    return held.pop()


def _answer_after_a_reconnect(page, sockets, held: list) -> None:
    """A request of the helper chat, held, is let through after a reconnect's sync."""
    _reconnect_while_held(page, sockets, held, "#helper-messages").continue_()


def test_a_long_helper_chats_earlier_messages_come_in_where_the_reader_is_and_stay(
    daphne_server, browser
):
    """The page shows a chat's newest 100 messages; "Show" (drawn by the socket's sync) brings
    the 100 before them in above, with the message being read kept in place in every frame
    (it jumped for a frame) and the focus, and says so; a reconnect's sync keeps them (it
    dropped them and the reader's place). From the attacker's replay."""
    import re

    from playwright.sync_api import expect

    page, session = _long_helper_chat(browser, daphne_server, questions=230)
    sockets = _closable_sockets_counting_syncs(page)
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(page.locator("#connection")).to_contain_text("Connected")
    page.wait_for_function("() => window.syncs === 1")  # the "Show" below is the sync's
    messages = page.locator("#helper-messages .msg")
    show = page.locator("#helper-messages .earlier-messages button")
    expect(show).to_have_text("Show 100 of 131 earlier messages")
    page.locator("#helper-scroll").evaluate("el => { el.scrollTop = 0; }")
    reading = messages.filter(has_text=re.compile(r"\bFrage 130\b")).first
    top_before = reading.evaluate("el => el.getBoundingClientRect().top")
    reading.evaluate(
        """el => {
          window.tops = [];
          (function record() {
            window.tops.push(el.getBoundingClientRect().top);
            if (window.tops.length < 40) requestAnimationFrame(record);
          })();
        }"""
    )
    show.click()
    expect(messages).to_have_count(200)
    page.wait_for_function("() => window.tops.length === 40")
    assert max(abs(top - top_before) for top in page.evaluate("window.tops")) < 2
    assert re.search(r"\bFrage 130\b", page.evaluate("document.activeElement.textContent"))
    expect(page.locator("#helper-announce")).to_have_text("100 earlier messages shown above.")
    expect(show).to_have_text("Show 31 earlier messages")

    # The connection drops and comes back: the sync draws the newest 100 again, and the
    # 100 fetched above them stay, with the message being read where it was and the focus.
    reading = messages.filter(has_text=re.compile(r"\bFrage 61\b")).first
    reading.evaluate("el => el.scrollIntoView({block: 'start'})")
    reading.locator("button").focus()  # its "Keep selection", from the keyboard
    top_before = reading.evaluate("el => el.getBoundingClientRect().top")
    sockets[-1].close(code=1012)
    page.wait_for_function("() => window.syncs === 2")
    expect(page.locator("#connection")).to_contain_text("Connected")
    expect(messages).to_have_count(200)
    assert abs(reading.evaluate("el => el.getBoundingClientRect().top") - top_before) < 2
    focused = page.evaluate("document.activeElement.closest('.msg').textContent")
    assert re.search(r"\bFrage 61\b", focused)
    expect(show).to_have_text("Show 31 earlier messages")

    # A "Show" that fails says so, and leaves nothing for the next swap (a Keep) to act on:
    # it jumped the chat, took the focus and said "0 earlier messages shown above".
    page.route(re.compile(r"/earlier/"), lambda route: route.fulfill(status=404, body="gone"))
    show.click()
    expect(page.locator("#helper-messages .earlier-messages")).to_contain_text(
        "no longer available"
    )
    page.unroute(re.compile(r"/earlier/"))
    page.locator("#helper-announce").evaluate("el => { el.textContent = ''; }")
    page.locator("#main-messages .keep-form button").first.evaluate("b => b.click()")
    expect(page.locator("#main-messages .kept")).to_have_count(1)
    expect(page.locator("#helper-announce")).to_have_text("")

    # On a phone, with the role-play in view, earlier messages are not news: the helper's tab
    # is not marked "new" (it was).
    page.set_viewport_size({"width": 390, "height": 844})
    show.evaluate("button => button.click()")
    expect(messages).to_have_count(231)
    expect(page.locator('.chat-tabs button[aria-controls="pane-helper"] .unread')).to_be_hidden()
    expect(messages.first).to_contain_text("farmers' market")  # the helper's opening line
    expect(page.locator("#helper-messages .earlier-messages")).to_have_count(0)
    shown = re.findall(r"Frage \d+", " ".join(messages.all_inner_texts()))
    assert shown == [f"Frage {n}" for n in range(230)]  # in order, none twice, none missing
    assert not [p for p in problems if "404" not in p]  # the 404 asked for above
    page.context.close()


def test_a_show_on_its_way_when_a_sync_comes_still_brings_the_earlier_messages(
    daphne_server, browser
):
    """A reconnect's sync drew the chat again while a "Show" was on its way: the answer had
    nowhere to go, and the press was dropped without a word (the recheck replay)."""
    import re

    from playwright.sync_api import expect

    page, session = _long_helper_chat(browser, daphne_server, questions=110)
    sockets, held = _closable_sockets_counting_syncs(page), []
    page.route(re.compile(r"/earlier/"), lambda route: held.append(route))  # answered below
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_function("() => window.syncs === 1")
    messages = page.locator("#helper-messages .msg")
    page.locator("#helper-messages .earlier-messages button").click()
    _answer_after_a_reconnect(page, sockets, held)
    expect(messages).to_have_count(111)
    expect(page.locator("#helper-announce")).to_have_text("11 earlier messages shown above.")
    shown = re.findall(r"Frage \d+", " ".join(messages.all_inner_texts()))
    assert shown == [f"Frage {n}" for n in range(110)]
    page.context.close()


def test_a_sync_draws_only_the_newest_messages_again_not_those_fetched_above(
    daphne_server, browser
):
    """A reconnect's sync moved every fetched message into the frame it swapped in, and htmx
    processed each again: with 2,000 fetched, the page was blocked for 0.3 s a sync on a fast
    machine, 1.3 to 1.7 s at 5,000 (the recheck replay). Only the newest part is drawn again."""
    import re

    from playwright.sync_api import expect

    page, session = _long_helper_chat(browser, daphne_server, questions=230)
    sockets = _closable_sockets_counting_syncs(page)
    page.add_init_script(
        """
        window.drawnAgain = 0;  // messages marked as fetched, processed by htmx again
        document.addEventListener("htmx:load", function (event) {
          if (event.target.closest && event.target.closest("[data-fetched]")) {
            window.drawnAgain += 1;
          }
        });
        """
    )
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_function("() => window.syncs === 1")
    messages = page.locator("#helper-messages .msg")
    page.evaluate(
        """() => document.addEventListener("htmx:afterSettle", function (event) {
          if (event.detail.xhr && /earlier/.test(event.detail.xhr.responseURL)) {
            window.fetchSettled = true;
          }
        })"""
    )
    page.locator("#helper-messages .earlier-messages button").click()
    expect(messages).to_have_count(200)
    # htmx's load events for what it fetched come at the settle, 20 ms after the swap: one came
    # after the count was reset (a full run, once).
    page.wait_for_function("() => window.fetchSettled === true")
    first_fetched = messages.first.element_handle()
    messages.evaluate_all("all => all.slice(0, 100).forEach(m => { m.dataset.fetched = ''; })")
    page.evaluate("() => { window.drawnAgain = 0; }")
    sockets[-1].close(code=1012)
    page.wait_for_function("() => window.syncs === 2")
    expect(page.locator("#connection")).to_contain_text("Connected")
    assert page.evaluate("window.drawnAgain") == 0
    assert messages.first.evaluate("(m, kept) => m === kept", first_fetched)
    expect(page.locator("#helper-messages > .msg")).to_have_count(200)  # none left wrapped
    shown = re.findall(r"Frage \d+", " ".join(messages.all_inner_texts()))
    assert shown == [f"Frage {n}" for n in range(30, 230)]

    # A message frame that repeats one already drawn (a tab that joined mid-turn gets it in
    # its sync and as a frame) is dropped, and the order stays: it moved every message
    # fetched above to below the newest (the recheck replay).
    page.evaluate(
        """() => {
          var all = document.querySelectorAll("#helper-messages .msg");
          var again = all[all.length - 2].outerHTML;
          htmx.swap(document.body, '<div hx-swap-oob="beforeend:#helper-messages"'
            + ' data-frame="learner-message">' + again + "</div>", {swapStyle: "none"});
        }"""
    )
    expect(messages).to_have_count(200)
    shown = re.findall(r"Frage \d+", " ".join(messages.all_inner_texts()))
    assert shown == [f"Frage {n}" for n in range(30, 230)]
    page.context.close()


def test_the_same_words_said_twice_are_said_again(daphne_server, browser):
    """A live region is read when its words change: a refusal repeated word for word, or a
    second "Show" of 100, went unread (the recheck replay). The words go, then come back."""
    from playwright.sync_api import expect

    page, session = _long_helper_chat(browser, daphne_server, questions=2)
    page.add_init_script(
        """
        window.said = [];
        new MutationObserver(function () {
          var note = document.querySelector(".keep-error");
          if (note && note.textContent !== window.said[window.said.length - 1]) {
            window.said.push(note.textContent);
          }
        }).observe(document, {subtree: true, childList: true, characterData: true});
        """
    )
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(page.locator("#connection")).to_contain_text("Connected")
    # The connection's sync draws the lines again: between the two clicks, it took the
    # first refusal with the line it was in (CI on a busy machine).
    expect(page.locator("#chat[data-synced]")).to_have_count(1)
    keep = page.locator("#helper-messages .msg", has_text="Frage 1").get_by_role("button")
    refusal = "Select German words in this answer first, then Keep selection."
    keep.click()
    page.wait_for_function("() => window.said.length === 1")
    keep.click()  # the same refusal: before, its words stayed and nothing changed
    page.wait_for_function("() => window.said.length === 3")
    assert page.evaluate("window.said") == [refusal, "", refusal]
    page.context.close()


def test_words_said_again_leave_what_the_server_said_meanwhile(daphne_server, browser):
    """The same words said twice come back 100 ms later: over a refusal or a reply's
    announcement the server had written there meanwhile (the attacker's replay)."""
    from playwright.sync_api import expect

    page, session = _long_helper_chat(browser, daphne_server, questions=2)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(page.locator("#connection")).to_contain_text("Connected")
    left = page.evaluate(
        """() => new Promise(function (done) {
          var box = document.getElementById("helper-input");
          function enter() {
            box.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
          }
          enter();
          enter();  // "Write a message first." again: it goes, to come back in 100 ms
          // ...but the server's notice frame comes first (templates/chat/frames/notice.html)
          htmx.swap("#helper-error", "Slow down a little.", {swapStyle: "innerHTML"});
          setTimeout(function () {
            done(document.getElementById("helper-error").textContent);
          }, 150);
        })"""
    )
    assert left == "Slow down a little."
    page.context.close()


def test_a_part_of_the_page_asked_for_after_the_login_ended_keeps_the_page(daphne_server, browser):
    """A "Show" after the login ended (expired: no socket was told) drew the login form in the
    chat, then sent the page away with what the learner was writing: the page stays and says
    so, as when the socket is closed for it (the attacker's replay and its recheck)."""
    import re

    from django.contrib.sessions.models import Session as Login
    from playwright.sync_api import expect

    from lib.rls import acting_as_auth

    page, session = _long_helper_chat(browser, daphne_server, questions=110)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(page.locator("#connection")).to_contain_text("Connected")
    expect(page.locator("#chat[data-synced]")).to_have_count(1)
    page.locator("#helper-input").fill("How do I say")
    with acting_as_auth():
        Login.objects.all().delete()  # the login expired
    page.locator("#helper-messages .earlier-messages button").click()
    expect(page.locator("#connection")).to_contain_text("You are logged out.")
    assert page.url.endswith(f"/sessions/{session.pk}/")
    expect(page.locator("#helper-input")).to_have_value("How do I say")
    assert page.locator("form[action*='login'], #id_username").count() == 0

    # A Keep refused for a stale CSRF token (a log-in in another tab changes it) says to
    # reload: "Try again in a moment" could never succeed.
    page.route(re.compile(r"/deck/keep/"), lambda route: route.fulfill(status=403, body="CSRF"))
    page.locator("#main-messages .keep-form button").first.click()
    expect(page.locator("#main-messages .keep-error")).to_have_text(
        "This page is out of date: reload it, then try again."
    )
    page.context.close()


def test_a_keep_on_its_way_when_a_sync_comes_answers_on_the_line_drawn_again(
    daphne_server, browser
):
    """A reconnect's sync drew the newest messages again while a "Keep selection" was on its
    way: its answer went into the copy that was gone, and the line on the page offered "Keep
    selection" as if nothing had been kept (the recheck replay)."""
    import re

    from playwright.sync_api import expect

    from learning.models import Card
    from lib.rls import acting_as_learner

    page, session = _long_helper_chat(browser, daphne_server, questions=4)
    sockets, held = _closable_sockets_counting_syncs(page), []
    page.route(re.compile(r"/deck/keep/"), lambda route: held.append(route))  # answered below
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_function("() => window.syncs === 1")
    answer = page.locator("#helper-messages .msg", has_text="Frage 3")
    answer.locator(".msg-text").evaluate(
        """el => {
          var words = document.createRange();
          words.selectNodeContents(el.lastChild);
          getSelection().removeAllRanges();
          getSelection().addRange(words);
        }"""
    )
    answer.get_by_role("button", name=KEEP_SELECTION).click()
    _answer_after_a_reconnect(page, sockets, held)
    # Said in the line drawn again, whose Keep stays for more of its words.
    expect(answer.locator(".kept")).to_have_text("Kept „Frage 3“ ✓")
    expect(answer.get_by_role("button", name=KEEP_SELECTION)).to_have_count(1)
    with acting_as_learner(session.user_id):
        assert list(Card.objects.values_list("german", flat=True)) == ["Frage 3"]
    page.context.close()


def test_the_focus_on_a_message_a_sync_no_longer_shows_goes_to_show_earlier(daphne_server, browser):
    """More than 100 messages came while the page was away: its sync draws the newest 100,
    without the earlier ones fetched above, and a keyboard user on one of those was left on
    the page's body, the next Tab going back to the top. The focus goes to that chat's
    "Show earlier", where they now are."""
    import re

    from playwright.sync_api import expect

    from tests.conftest import add_message

    page, session = _long_helper_chat(browser, daphne_server, questions=130)
    sockets = _closable_sockets_counting_syncs(page)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_function("() => window.syncs === 1")
    messages = page.locator("#helper-messages .msg")
    page.locator("#helper-messages .earlier-messages button").click()
    expect(messages).to_have_count(131)
    messages.filter(has_text=re.compile(r"\bFrage 5\b")).get_by_role("button").focus()
    for number in range(130, 231):
        add_message(session, "user" if number % 2 == 0 else "helper", "helper", f"Frage {number}")
    sockets[-1].close(code=1012)
    page.wait_for_function("() => window.syncs === 2")
    expect(messages).to_have_count(100)
    show = page.locator("#helper-messages .earlier-messages button")
    expect(show).to_have_text("Show 100 of 132 earlier messages")
    assert show.evaluate("button => button === document.activeElement")
    page.context.close()


def test_the_focus_on_a_keep_a_sync_draws_as_kept_goes_to_what_it_says(daphne_server, browser):
    """The line was kept elsewhere while the page was away: the sync draws it "In your deck"
    without the Keep that had the focus, which fell to the page (the attacker's replay)."""
    from playwright.sync_api import expect

    from learning import deck

    page, session = _long_helper_chat(browser, daphne_server, questions=0)
    sockets = _closable_sockets_counting_syncs(page)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_function("() => window.syncs === 1")
    opener = page.locator("#main-messages .msg").first
    opener.get_by_role("button", name=re.compile("^Keep “.*” in your deck$")).focus()
    deck.keep(session.user_id, opener.locator('input[name="german"]').input_value())
    sockets[-1].close(code=1012)
    page.wait_for_function("() => window.syncs === 2")
    expect(opener.locator(".kept")).to_have_text("In your deck ✓")
    expect(opener.locator(".kept")).to_be_focused()
    page.context.close()


def test_a_reconnect_leaves_a_completed_scenes_panel_as_it_was(daphne_server, browser):
    """A sync drew the completion again: it took the focus from the helper's box at every
    reconnect (what was typed next was lost), loaded the report again, and a Keep of a report
    word on its way answered into the report replaced: a refusal said nothing (the attacker's
    replay)."""
    import re

    from playwright.sync_api import expect

    from scenarios import lifecycle

    page, session = _long_helper_chat(browser, daphne_server, questions=0)
    lifecycle.complete_session(session.user_id, session.pk, main_messages=16, ended_by="model")
    _report_ready(session, [{"german": "das Brötchen", "gloss": "the bread roll"}])
    sockets, held = _closable_sockets_counting_syncs(page), []
    page.route(re.compile(r"/deck/keep/"), lambda route: held.append(route))
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_function("() => window.syncs === 1")
    word = page.locator(".report-words li").first
    expect(word.get_by_role("button")).to_be_visible()
    box = page.locator("#helper-input")
    box.fill("Was heißt")
    box.focus()
    sockets[-1].close(code=1012)
    page.wait_for_function("() => window.syncs === 2")
    expect(box).to_be_focused()
    page.keyboard.type(" das?")
    expect(box).to_have_value("Was heißt das?")

    # Another scene completed meanwhile (in another tab): the count of those left is new.
    left = page.locator("#completion .scenes-left")
    expect(left).to_have_text(re.compile(r"You have \d+ conversations left this week\."))
    before = int(re.search(r"\d+", left.inner_text()).group())
    other = conversations.start(session.user_id, Scenario.objects.get(code="bakery"))
    lifecycle.complete_session(session.user_id, other.pk, main_messages=16, ended_by="model")
    sockets[-1].close(code=1012)
    page.wait_for_function("() => window.syncs === 3")
    expect(left).to_contain_text(f"You have {before - 1} conversation")
    expect(box).to_be_focused()

    word.get_by_role("button").click()
    refusal = "You are keeping words very quickly: try again in 5 seconds."
    _reconnect_while_held(page, sockets, held, ".report-words").fulfill(status=429, body=refusal)
    expect(word.locator(".keep-error")).to_have_text(refusal)
    page.context.close()


def test_a_pending_report_whose_check_failed_asks_again(daphne_server, browser):
    """A report still being written asks every 3 s whether it is ready; one check that failed
    (the server restarting, a proxy's 502, a short outage) ended the asking until a reload
    (the recheck replay: a reconnect's sync had hidden it by drawing the panel again)."""
    import re

    from playwright.sync_api import expect

    from chat.models import SceneReport
    from lib.rls import acting_as_staff
    from scenarios import lifecycle

    page, session = _long_helper_chat(browser, daphne_server, questions=0)
    lifecycle.complete_session(session.user_id, session.pk, main_messages=16, ended_by="model")
    with acting_as_staff():
        SceneReport.objects.update_or_create(session_id=session.pk, defaults={"status": "pending"})
    failed = []

    def fail(route):
        failed.append(route.request.url)
        route.fulfill(status=502, body="Bad gateway")

    page.route(re.compile(r"/report/"), fail)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(page.locator("#report")).to_have_text("Your report is being written…")
    while not failed:
        page.wait_for_timeout(50)
    page.unroute(re.compile(r"/report/"))
    words = [{"german": "das Brötchen", "gloss": "the bread roll"}]
    with acting_as_staff():
        SceneReport.objects.filter(session_id=session.pk).update(
            status="ready", kind="offline", content={"words": words}
        )
    expect(page.locator("#report-title")).to_have_text("Your report", timeout=10_000)
    page.context.close()


def test_a_pending_report_stops_asking_once_it_cannot_come(daphne_server, browser):
    """Asking again after a failed check must not go on when the server has said no: a report
    of a session gone (404), here or on the transcript, or a login that ended (a redirect to
    log in, which the chat page does not follow), was asked for every 5 s for as long as the
    page stayed open; and once the socket is back on a login, it asks again, but not after a
    404 (the recheck replays)."""
    import re

    from playwright.sync_api import expect

    from chat.models import SceneReport
    from lib.rls import acting_as_staff
    from scenarios import lifecycle

    page, session = _long_helper_chat(browser, daphne_server, questions=0)
    lifecycle.complete_session(session.user_id, session.pk, main_messages=16, ended_by="model")
    with acting_as_staff():
        SceneReport.objects.update_or_create(session_id=session.pk, defaults={"status": "pending"})
    sockets = _closable_sockets_counting_syncs(page)
    report, asking = page.locator("#report"), page.locator("#report[hx-get]")
    refused = []

    def gone(route):
        refused.append(route.request.url)
        route.fulfill(status=404, body="Gone")

    for where in (f"/history/{session.pk}/", f"/sessions/{session.pk}/"):
        page.route(re.compile(r"/report/"), gone)
        page.goto(f"{daphne_server}{where}")
        expect(report).to_have_text("This report is no longer available.")
        expect(asking).to_have_count(0)  # nothing left to ask again
        if where.startswith("/sessions/"):
            # A reconnect's sync leaves it stopped: it had asked once more.
            page.wait_for_function("() => window.syncs >= 1")
            syncs, asked = page.evaluate("window.syncs"), len(refused)
            sockets[-1].close(code=1012)
            page.wait_for_function(f"() => window.syncs === {syncs + 1}")
            expect(report).to_have_text("This report is no longer available.")
            expect(asking).to_have_count(0)
            assert len(refused) == asked
        page.unroute(re.compile(r"/report/"))

    login = {"HX-Redirect": f"/login/?next=/sessions/{session.pk}/report/"}
    page.route(re.compile(r"/report/"), lambda route: route.fulfill(status=200, headers=login))
    page.reload()
    expect(report).to_have_text("Log in again to see your report.")
    expect(asking).to_have_count(0)
    page.wait_for_function("() => window.syncs === 1")

    # Logged in again elsewhere, the socket comes back: the report is asked for again.
    page.unroute(re.compile(r"/report/"))
    words = [{"german": "das Brötchen", "gloss": "the bread roll"}]
    with acting_as_staff():
        SceneReport.objects.filter(session_id=session.pk).update(
            status="ready", kind="offline", content={"words": words}
        )
    sockets[-1].close(code=1012)
    page.wait_for_function("() => window.syncs === 2")
    expect(page.locator("#report-title")).to_have_text("Your report")
    page.context.close()


@pytest.mark.parametrize("height", [560, 844])
def test_on_a_phone_with_its_keyboard_open_the_goals_leave_room_for_the_chat(
    daphne_server, browser, height
):
    """At 390 by 560 (a phone's keyboard open) five goals took 145 px over the chat, which
    showed 80 px: the line to answer was under them (a newcomer's walk)."""
    from playwright.sync_api import expect

    user = User.objects.create_user("olga@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    context = browser.new_context(viewport={"width": 390, "height": height})
    context.add_cookies(
        [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
    )
    page = context.new_page()
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_function("() => document.getElementById('chat').dataset.synced === 'yes'")
    expect(page.locator(".chat-pane-main > .goals")).to_be_visible()
    goals = page.locator(".chat-pane-main > .goals").bounding_box()
    chat = page.locator("#main-scroll").bounding_box()
    if height == 560:  # its title and two goals, the rest a scroll away
        assert goals["height"] <= 80 and chat["height"] >= 150
    else:  # room enough: every goal in view
        assert goals["height"] > 120 and chat["height"] >= 300
    context.close()


def test_a_list_open_when_a_sync_comes_stays_open_with_the_focus_and_a_keep_on_its_way(
    daphne_server, browser
):
    """A reconnect drew the lines again, lists closed: the focus on a word fell to the page
    (a newcomer's walk), and a word being kept was kept with nothing saying so (the last
    note). The lists the learner opened stay open, the focus where it was, and a Keep on its
    way answers in its list."""
    from playwright.sync_api import expect

    from learning.models import Card
    from lib.rls import acting_as_learner
    from tests.conftest import add_message

    page, session = _long_helper_chat(browser, daphne_server, questions=0)
    answer = add_message(
        session, "helper", "helper", "Say \u201eein Kilo\u201c (a kilo), \u201ezwei\u201c (two)."
    )
    sockets, held = _closable_sockets_counting_syncs(page), []
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_function("() => window.syncs === 1")
    opener = page.locator("#main-messages .msg").first
    keep_words = opener.get_by_role("button", name=re.compile("^Keep words of "))
    keep_words.click()
    words = opener.locator(".line-words .keep-form button")
    expect(words.first).to_be_focused()  # settled
    second = opener.locator('.line-words input[name="german"]').nth(1).input_value()
    words.nth(1).focus()
    sockets[-1].close(code=1012)
    page.wait_for_function("() => window.syncs === 2")
    expect(opener.locator(".line-words .keep-form button").nth(1)).to_be_focused()
    expect(keep_words).to_have_attribute("aria-expanded", "true")

    helper = page.locator(f"#msg-{answer.pk}")
    helper.get_by_role("button", name="Keep a phrase").click()
    helper.get_by_role("button", name=re.compile("^Keep \u201ezwei\u201c")).focus()
    sockets[-1].close(code=1012)
    page.wait_for_function("() => window.syncs === 3")
    expect(helper.get_by_role("button", name=re.compile("^Keep \u201ezwei\u201c"))).to_be_focused()

    # A word being kept as the sync comes: said kept in its list, which has the focus.
    page.route(re.compile(r"/deck/keep/"), lambda route: held.append(route))
    opener.locator(".line-words .keep-form button").nth(1).press("Enter")
    _reconnect_while_held(page, sockets, held, "#main-messages").continue_()
    kept = opener.locator(".line-words .kept")
    expect(kept).to_have_text(f"Kept \u201e{second}\u201c \u2713")
    expect(kept).to_be_focused()
    with acting_as_learner(session.user_id):
        assert list(Card.objects.values_list("german", flat=True)) == [second]
    assert problems == []
    page.context.close()


def test_a_list_open_through_a_sync_marks_what_was_kept_while_the_page_was_away(
    daphne_server, browser
):
    """A list of a line's words, or of an answer's phrases, stays open through a reconnect's
    sync; a word kept elsewhere while the page was away was offered still, and only pressed
    said "in your deck" (the last note)."""
    from playwright.sync_api import expect

    from learning import deck
    from tests.conftest import add_message

    page, session = _long_helper_chat(browser, daphne_server, questions=0)
    answer = add_message(
        session, "helper", "helper", "Say \u201eein Kilo\u201c (a kilo), \u201ezwei\u201c (two)."
    )
    sockets, blocked = _sockets_the_server_may_refuse(page)
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_selector("#chat[data-synced]")
    opener = page.locator("#main-messages .msg").first
    opener.get_by_role("button", name=re.compile("^Keep words of ")).click()
    words = opener.locator(".line-words .keep-form")
    expect(words.first.get_by_role("button")).to_be_focused()  # settled
    first, second = (words.nth(n).locator('input[name="german"]').input_value() for n in (0, 1))
    helper = page.locator(f"#msg-{answer.pk}")
    helper.get_by_role("button", name="Keep a phrase").click()
    expect(helper.get_by_role("button", name=re.compile("^Keep \u201ezwei\u201c"))).to_be_visible()
    words.nth(1).get_by_role("button").focus()

    blocked["on"] = True
    sockets[-1].close(code=1012)
    expect(page.locator("#connection")).not_to_contain_text("Connected")
    deck.keep(session.user_id, first)  # in another tab, say, while this one is away
    deck.keep(session.user_id, "zwei")
    blocked["on"] = False

    kept = opener.locator(".line-words .kept")
    expect(kept).to_have_text(f"\u201e{first}\u201c in your deck \u2713", timeout=30_000)
    zwei = helper.locator(".keep-phrases .kept")
    expect(zwei).to_have_text("\u201ezwei\u201c in your deck \u2713")
    expect(helper.get_by_role("button", name=re.compile("^Keep \u201eein Kilo"))).to_be_visible()
    # Its "Keep a phrase", drawn again, says the list is open (it said closed: the recheck).
    keep_a_phrase = helper.get_by_role("button", name="Keep a phrase")
    expect(keep_a_phrase).to_have_attribute("aria-expanded", "true")
    expect(opener.get_by_role("button", name=re.compile(f"^Keep \u201e{second}"))).to_be_focused()
    assert [p for p in problems if "WebSocket" not in p] == []
    page.context.close()


def test_a_message_sent_before_the_scripts_ran_is_back_in_its_box_to_send(daphne_server, browser):
    """Send pressed before the page's scripts ran posts the form itself: the text came back
    nowhere (a 405). It is back in its box, said not sent, and goes out from there."""
    from playwright.sync_api import expect

    page, session = _open_chat(browser, daphne_server)
    page.wait_for_selector("#chat[data-synced]")
    sent = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda frame: sent.append(frame)))
    # A page whose scripts have not come: the form is the browser's own.
    page.route(re.compile(r"/static/.*\.js$"), lambda route: route.abort())
    page.reload()
    page.wait_for_load_state("load")
    page.locator("#main-input").fill("Zwei Br\u00f6tchen, bitte.")
    page.unroute(re.compile(r"/static/.*\.js$"))  # the page it comes back to has them
    problems = watch_for_problems(page)
    page.locator("#main-form button[type=submit]").click()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#main-error")).to_contain_text("Not sent yet")
    expect(page.locator("#main-input")).to_have_value("Zwei Br\u00f6tchen, bitte.")
    expect(page.locator("#main-input")).to_be_focused()
    assert _sent(session) == []
    # Reloaded now, it is kept as anything typed is (it was lost: the attacker's recheck).
    page.reload()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#main-input")).to_have_value("Zwei Br\u00f6tchen, bitte.")
    expect(page.locator("#main-error")).to_have_text("")

    page.locator("#main-input").press("Enter")
    expect(page.locator("#main-messages")).to_contain_text("Zwei Br\u00f6tchen, bitte.")
    expect(page.locator("#main-error")).to_have_text("")
    expect(page.locator("#main-input")).to_have_value("")
    assert len(_sent(session)) == 1
    assert sent and not any("csrfmiddlewaretoken" in str(frame) for frame in sent)
    assert not any("HEADERS" in str(frame) for frame in sent)

    # Reloaded, the page is the chat again: the POST was sent again, and put the message
    # back as if it had not been sent (the attacker's replay); so is Back to it.
    page.reload()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#main-input")).to_have_value("")
    expect(page.locator("#main-error")).to_have_text("")
    page.goto(f"{daphne_server}/deck/")
    page.go_back()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#main-input")).to_have_value("")
    assert len(_sent(session)) == 1
    assert problems == []


def test_asking_the_helper_about_a_line_keeps_the_question_being_written(daphne_server, browser):
    """ "Explain" and "Check my German" put their question in the helper's box in place of what
    the learner was writing there, which went; with the helper still replying nothing was
    sent either. On a phone the focus fell to the page (a newcomer's walk)."""
    from playwright.sync_api import expect

    page, session = _open_chat(browser, daphne_server)
    page.wait_for_selector("#chat[data-synced]")
    problems = watch_for_problems(page)
    draft = "What is the difference between Roggenbrot and"
    page.locator("#helper-input").fill(draft)
    opener = page.locator("#main-messages .msg").first
    opener.get_by_role("button", name="Explain").click()
    helper = page.locator("#helper-messages")
    expect(helper).to_contain_text("Explain this line: \u201e")
    expect(page.locator("#helper-input")).to_have_value(draft)
    expect(page.locator("#helper-send")).to_be_disabled()  # the answer is on its way
    opener.get_by_role("button", name="Explain").click()
    expect(page.locator("#helper-error")).to_contain_text("Wait for the reply")
    expect(page.locator("#helper-input")).to_have_value(draft)
    expect(page.locator("#helper-send")).to_be_enabled()  # answered
    assert len(_sent(session, "helper")) == 1

    # On a phone, from the keyboard: the helper's chat comes to the front, the focus in its box.
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator('.chat-tabs button[aria-controls="pane-main"]').click()
    opener.get_by_role("button", name="Explain").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#helper-input")).to_be_focused()
    expect(page.locator("#helper-input")).to_have_value(draft)
    expect(helper.locator(".msg-user")).to_have_count(2)
    # After a tap, to the helper's tab, in front now (not its box, which would open the
    # phone's keyboard; the pane's title, tried first, is not shown there: a newcomer's recheck).
    expect(page.locator("#helper-send")).to_be_enabled()
    helper_tab = page.locator('.chat-tabs button[aria-controls="pane-helper"]')
    page.locator('.chat-tabs button[aria-controls="pane-main"]').click()
    opener.get_by_role("button", name="Explain").click()
    expect(helper_tab).to_be_focused()
    expect(helper.locator(".msg-user")).to_have_count(3)
    assert problems == []


def test_what_is_written_in_a_box_is_still_there_after_a_reload(daphne_server, browser):
    """A reload (which a lost connection invites) emptied the boxes (a newcomer's walk). Once
    sent, and stored, it is not put back."""
    from playwright.sync_api import expect

    page, session = _open_chat(browser, daphne_server)
    page.wait_for_selector("#chat[data-synced]")
    problems = watch_for_problems(page)
    # A long line, wrapped, grows the box as line breaks do (they alone did: a newcomer's walk).
    page.locator("#main-input").fill("Ich h\u00e4tte gern " * 30)
    assert int(page.locator("#main-input").get_attribute("rows")) > 2
    page.locator("#main-input").fill("Was kostet das alles zusammen")
    assert page.locator("#main-input").get_attribute("rows") == "2"
    page.locator("#helper-input").fill("How do I say\nall\ntogether?")
    page.reload()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#main-input")).to_have_value("Was kostet das alles zusammen")
    expect(page.locator("#helper-input")).to_have_value("How do I say\nall\ntogether?")
    assert page.locator("#helper-input").get_attribute("rows") == "3"  # sized to it

    page.locator("#main-input").press("Enter")
    expect(page.locator("#main-messages")).to_contain_text("Was kostet das alles zusammen")
    expect(page.locator("#main-input")).to_have_value("")
    page.reload()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#main-input")).to_have_value("")
    expect(page.locator("#helper-input")).to_have_value("How do I say\nall\ntogether?")
    assert len(_sent(session)) == 1

    # Sent, and reloaded before the server said it had it: the draft kept under the
    # message's id is known as sent when the sync shows it, and not put back.
    page.locator("#main-input").fill("Danke!")
    page.locator("#main-input").press("Enter")
    expect(page.locator("#main-messages .msg-user")).to_have_count(2)
    sent = page.locator("#main-messages .msg-user").last.get_attribute("data-client-id")
    page.evaluate(
        """id => sessionStorage.setItem("maraum-draft " + location.pathname + " main",
          JSON.stringify({text: "Danke!", id: id}))""",
        sent,
    )
    page.reload()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#main-input")).to_have_value("")
    assert len(_sent(session)) == 2
    assert problems == []


def test_logging_out_forgets_the_drafts_kept_for_the_tab(daphne_server, browser):
    """Drafts are kept for the tab so a reload loses nothing; after a log-out they stayed in
    the tab for whoever used the browser next (the last note)."""
    from playwright.sync_api import expect

    page, _session = _open_chat(browser, daphne_server)
    page.wait_for_selector("#chat[data-synced]")
    problems = watch_for_problems(page)
    page.locator("#main-input").fill("Meine Adresse ist Hauptstra\u00dfe 5")
    page.locator("#helper-input").fill("How do I say my PIN?")
    assert len(page.evaluate(DRAFTS)) == 2

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("main")).to_contain_text("You are logged out")
    assert page.evaluate(DRAFTS) == []
    page.go_back()  # nor does Back bring them back
    page.wait_for_load_state()
    assert page.evaluate(DRAFTS) == []
    assert page.locator("#main-input").count() == 0
    assert problems == []
    page.context.close()


DRAFTS = """() => Object.keys(sessionStorage).filter(key => key.startsWith("maraum-draft"))"""


def test_logging_out_forgets_the_drafts_of_every_tab(daphne_server, browser):
    """A log-out forgot the drafts of its own tab only: another tab of the scene kept them in
    its boxes and its storage, as did a tab gone on to another page (the last note)."""
    from playwright.sync_api import expect

    chat, session = _open_chat(browser, daphne_server)
    chat.wait_for_selector("#chat[data-synced]")
    problems = watch_for_problems(chat)
    chat.locator("#main-input").fill("Meine Adresse ist Hauptstra\u00dfe 5")
    chat.locator("#helper-input").fill("How do I say my PIN?")
    gone_on = chat.context.new_page()
    gone_on.goto(f"{daphne_server}/sessions/{session.pk}/")
    gone_on.wait_for_selector("#chat[data-synced]")
    gone_on.locator("#main-input").fill("Und meine Telefonnummer ist ...")
    gone_on.get_by_role("link", name="History").click()
    assert len(gone_on.evaluate(DRAFTS)) == 1

    leaving = chat.context.new_page()
    leaving.goto(f"{daphne_server}/deck/")
    leaving.get_by_role("button", name="Log out").click()
    expect(leaving.locator("main")).to_contain_text("You are logged out")
    expect(chat.locator("#main-input")).to_have_value("")
    expect(chat.locator("#helper-input")).to_have_value("")
    # Said, not gone without a word (a newcomer's walk); in full once, not twice to a screen
    # reader (the next walk).
    expect(chat.locator("#main-error")).to_contain_text("what you had typed here was cleared")
    expect(chat.locator("#helper-error")).to_have_text(
        "You logged out in another tab: this box was cleared too."
    )
    assert chat.evaluate(DRAFTS) == []
    gone_on.wait_for_function(f"() => ({DRAFTS})().length === 0")
    chat.reload()  # nothing comes back: the login is gone, and with it the page
    assert chat.locator("#main-input").count() == 0
    assert problems == []
    chat.context.close()


def test_a_tab_away_from_maraum_at_a_log_out_forgets_its_drafts_when_it_comes_back(
    daphne_server, browser
):
    """A tab gone on to another site heard nothing of a log-out in another tab, and kept its
    drafts until that account logged in there again (the last note): they go as soon as it
    shows any page of Maraum, and a draft written after the log-out stays."""
    from playwright.sync_api import expect

    chat, session = _open_chat(browser, daphne_server)
    chat.wait_for_selector("#chat[data-synced]")
    chat.locator("#main-input").fill("Meine Adresse ist Hauptstra\u00dfe 5")
    assert len(chat.evaluate(DRAFTS)) == 1
    chat.goto("about:blank")  # another site, say: no page of Maraum to hear the log-out

    leaving = chat.context.new_page()
    leaving.goto(f"{daphne_server}/deck/")
    leaving.get_by_role("button", name="Log out").click()
    expect(leaving.locator("main")).to_contain_text("You are logged out")

    # The browser's clock set back meanwhile (a draft kept the time it was written, and was
    # lost or kept by the clock: the recheck).
    chat.add_init_script("Date.now = () => 0;")
    chat.goto(f"{daphne_server}/login/")  # back, to any page of Maraum
    chat.wait_for_load_state()
    assert chat.evaluate(DRAFTS) == []

    # Logged in again (in the other tab, say), Back to the chat page brings back no draft: the
    # browser's own restoring of the box brought it back too (a newcomer's walk).
    chat.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": login_session_key(User.objects.get(pk=session.user_id)),
                "url": daphne_server,
            }
        ]
    )
    chat.go_back()
    chat.go_back()
    chat.wait_for_selector("#chat[data-synced]")
    assert chat.url == f"{daphne_server}/sessions/{session.pk}/"
    expect(chat.locator("#main-input")).to_have_value("")

    # A draft written now outlives a reload.
    chat.locator("#main-input").fill("Zwei Brezeln, bitte")
    chat.reload()
    chat.wait_for_selector("#chat[data-synced]")
    expect(chat.locator("#main-input")).to_have_value("Zwei Brezeln, bitte")
    chat.context.close()


def test_a_draft_outlives_a_login_that_ended_while_the_learner_typed(daphne_server, browser):
    """Forgotten on every signed-out page, a draft was lost on the log-in page that a login
    that ended mid-typing leads back through (the attacker's replay)."""
    from django.contrib.sessions.backends.db import SessionStore
    from playwright.sync_api import expect

    user = User.objects.create_user("dora@example.com", "a long enough passphrase")
    session = conversations.start(user.pk, Scenario.objects.get(code="marketplace"))
    login = login_session_key(user)
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": login, "url": daphne_server}])
    page = context.new_page()
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_selector("#chat[data-synced]")
    page.locator("#main-input").fill("Ich m\u00f6chte zwei Brezeln")
    SessionStore(session_key=login).delete()  # the login expires

    page.reload()  # to the log-in page, and back
    page.get_by_label("Email").fill("dora@example.com")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#main-input")).to_have_value("Ich m\u00f6chte zwei Brezeln")
    assert len(page.evaluate(DRAFTS)) == 1
    context.close()


def test_on_a_touch_screen_start_leaves_the_box_unfocused(daphne_server, browser):
    """Right after Start the focus waits in the role-play's box (test_learner_journey); on a
    phone that opened its keyboard over the opening line (the last note)."""
    from playwright.sync_api import expect

    user = User.objects.create_user("tara@example.com", None)
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    phone.add_cookies(
        [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
    )
    page = phone.new_page()
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/")
    page.get_by_role("button", name="Start Marketplace").click()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#main-messages")).to_contain_text("ganz frisches Obst")
    assert page.evaluate("document.activeElement.id") != "main-input"
    assert problems == []
    phone.close()


def test_continue_puts_the_focus_in_the_box_described_by_the_newest_line(daphne_server, browser):
    """Come back by "Continue", the focus stayed on the page; only Start put it in the box (the
    last note). It waits there now, described once by where the role-play stands."""
    from playwright.sync_api import expect

    from tests.conftest import add_message

    user = User.objects.create_user("cora@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="marketplace"))
    add_message(session, "user", "main", "Ich m\u00f6chte zwei \u00c4pfel.")
    add_message(session, "scenario", "main", "Gern, die roten oder die gr\u00fcnen?")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
    )
    page = context.new_page()
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/")
    page.get_by_role("link", name="Continue Marketplace").click()
    page.wait_for_selector("#chat[data-synced]")
    box = page.get_by_label("Your message, in German")
    expect(box).to_be_focused()
    expect(box).to_have_accessible_description(re.compile("die roten oder die gr\u00fcnen"))
    page.keyboard.press("Shift+Tab")
    box.focus()
    expect(box).not_to_have_accessible_description(re.compile("die roten"))
    assert problems == []
    context.close()


def test_a_reload_gives_the_focus_back_to_the_helpers_box_holding_the_draft(daphne_server, browser):
    """A reload put the focus in the role-play's box when the learner had been typing to the
    helper (a newcomer's walk): the box holding the only draft takes it."""
    from playwright.sync_api import expect

    page, _ = _open_chat(browser, daphne_server)
    page.wait_for_selector("#chat[data-synced]")
    page.locator("#helper-input").fill("Is it der or das Apfel?")
    page.reload()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#helper-input")).to_be_focused()
    page.locator("#main-input").fill("Einen Apfel, bitte.")
    page.reload()
    page.wait_for_selector("#chat[data-synced]")
    expect(page.locator("#main-input")).to_be_focused()
    page.context.close()


def test_a_draft_kept_through_a_reload_goes_out_once_and_changed_under_an_id_of_its_own(
    daphne_server, browser
):
    """A draft put back after a reload under its id, stored meanwhile (sent before the reload,
    its echo lost), and changed since: the sync emptied the box of the changes too, and sent
    with that id they were refused as "already sent with other words". An id not of the
    page's making broke every frame (the attacker's recheck)."""
    from playwright.sync_api import expect

    from chat.models import Message
    from lib.rls import acting_as_learner

    page, session = _long_helper_chat(browser, daphne_server, questions=0)
    sockets = _closable_sockets_counting_syncs(page)
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_function("() => window.syncs === 1")
    draft_id = str(uuid.uuid4())
    keep_draft = """([chat, text, id]) => sessionStorage.setItem(
        "maraum-draft " + location.pathname + " " + chat, JSON.stringify({text: text, id: id}))"""
    page.evaluate(keep_draft, ["helper", "Was hei\u00dft Brot?", draft_id])
    page.evaluate(keep_draft, ["main", "Hallo!", 'x"]'])
    page.reload()
    page.wait_for_function("() => window.syncs === 1")
    expect(page.locator("#helper-input")).to_have_value("Was hei\u00dft Brot?")
    expect(page.locator("#main-input")).to_have_value("Hallo!")

    with acting_as_learner(session.user_id):  # stored under its id, its echo lost
        Message.objects.create(
            session=session,
            role="user",
            chat_type="helper",
            content="Was hei\u00dft Brot?",
            client_message_id=uuid.UUID(draft_id),
        )
    page.locator("#helper-input").press("End")
    page.keyboard.type(" Und Br\u00f6tchen?")
    sockets[-1].close(code=1012)
    page.wait_for_function("() => window.syncs === 2")
    expect(page.locator("#helper-messages .msg-user")).to_have_count(1)
    expect(page.locator("#helper-input")).to_have_value("Was hei\u00dft Brot? Und Br\u00f6tchen?")
    kept = page.evaluate(
        """() => JSON.parse(
          sessionStorage.getItem("maraum-draft " + location.pathname + " helper"))"""
    )
    assert kept["text"] == "Was hei\u00dft Brot? Und Br\u00f6tchen?" and kept["id"] != draft_id

    page.locator("#main-input").press("Enter")  # under an id of the page's own
    expect(page.locator("#main-messages .msg-user")).to_have_count(1)
    expect(page.locator("#main-input")).to_have_value("")
    assert problems == []
    page.context.close()


def test_explain_while_a_message_waits_for_the_connection_sends_each_once(daphne_server, browser):
    """With the helper's message waiting for the connection, "Explain" put its id in the box:
    the message went out once, was not known as sent, and went again with the next Enter;
    the question was refused once the helper answered (the attacker's recheck)."""
    from playwright.sync_api import expect

    page, session = _long_helper_chat(browser, daphne_server, questions=0)
    sockets, blocked = _sockets_the_server_may_refuse(page)
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    page.wait_for_selector("#chat[data-synced]")
    blocked["on"] = True
    sockets[-1].close(code=1012)
    expect(page.locator("#connection")).not_to_contain_text("Connected")
    page.locator("#helper-input").fill("Was hei\u00dft Markt?")
    page.locator("#helper-input").press("Enter")
    expect(page.locator("#helper-error")).to_contain_text("goes out as soon as")
    page.locator("#main-messages .msg").first.get_by_role("button", name="Explain").click()
    expect(page.locator("#helper-error")).to_contain_text("Wait for the reply")
    expect(page.locator("#helper-input")).to_have_value("Was hei\u00dft Markt?")

    blocked["on"] = False  # back: it goes out, once, and the box lets it go
    expect(page.locator("#helper-messages .msg-user")).to_have_count(1, timeout=30_000)
    expect(page.locator("#helper-input")).to_have_value("")
    expect(page.locator("#helper-send")).to_be_enabled()
    page.locator("#helper-input").press("Enter")  # nothing left to send
    assert _sent(session, "helper") == ["Was hei\u00dft Markt?"]
    assert [p for p in problems if "WebSocket" not in p] == []
    page.context.close()


def test_the_weeks_last_scene_says_in_the_learners_time_when_a_new_week_starts(
    browser, daphne_server
):
    """The end of the week's last scene said "on Monday at 00:00 UTC": on a Monday that read as
    today, and in UTC where the picker gives the learner's own time (a newcomer's walk)."""
    from playwright.sync_api import expect

    from lib.rls import acting_as_staff
    from scenarios.lifecycle import week_ends
    from tests.conftest import add_message
    from tests.journey_helpers import set_week

    user = User.objects.create_user("dora@example.com", None)
    set_week(user, completed=2)
    session = conversations.start(user.pk, Scenario.objects.get(code="marketplace"))
    with acting_as_staff():
        for index in range(2, 30):  # the learner's next message fills the main chat
            add_message(session, "user" if index % 2 == 0 else "scenario", "main", f"Satz {index}")
    context = browser.new_context(timezone_id="Asia/Tokyo")  # UTC+9, no summer time
    url = daphne_server
    context.add_cookies([{"name": "sessionid", "value": login_session_key(user), "url": url}])
    page = context.new_page()
    problems = watch_for_problems(page)
    page.goto(f"{url}/sessions/{session.pk}/")
    box = page.get_by_label("Your message, in German")
    box.fill("Tschüss!")
    box.press("Enter")

    left = page.locator("#completion .scenes-left")
    expect(left).to_contain_text("That was this week's last conversation: a new week starts")
    monday_in_tokyo = week_ends().astimezone(ZoneInfo("Asia/Tokyo"))
    expect(left.locator("time")).to_have_text(
        re.compile(rf"^Monday,? {monday_in_tokyo.day} December(,| at) 09:00 GMT\+9$")
    )
    page.reload()  # and as the page draws it
    expect(left.locator("time")).to_have_text(re.compile(r" 09:00 GMT\+9$"))
    assert problems == []
    context.close()


def test_sending_goes_to_the_chats_newest_message(browser, daphne_server):
    """A learner scrolled up to read, then sent: their line and its reply came in below, out
    of sight, and nothing said so (a newcomer's walk)."""
    from playwright.sync_api import expect

    page, session = _long_helper_chat(browser, daphne_server, questions=40)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(page.locator("#connection")).to_contain_text("Connected")
    scroller = page.locator("#helper-scroll")
    scroller.evaluate("el => { el.scrollTop = 0; }")
    box = page.get_by_label("Your question for the helper")
    box.fill("What does Kilo mean?")
    box.press("Enter")
    asked = page.locator("#helper-messages .msg-user").last
    expect(asked).to_contain_text("What does Kilo mean?")
    expect(asked).to_be_in_viewport()
    answer = page.locator("#helper-messages .msg-helper").last
    expect(answer).not_to_contain_text("Frage")
    expect(answer).to_be_in_viewport()


def test_a_learner_scrolled_up_is_told_of_messages_below(browser, daphne_server):
    """Scrolled up to read, a learner saw nothing of what came in below, nor that it had
    (a newcomer's walk): a cue says so, takes them there, and goes."""
    from playwright.sync_api import expect

    page, session = _long_helper_chat(browser, daphne_server, questions=40)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(page.locator("#connection")).to_contain_text("Connected")
    cue = page.locator("#helper-scroll .new-below")
    expect(cue).to_be_hidden()
    other = page.context.new_page()  # the learner's other tab asks
    other.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(other.locator("#connection")).to_contain_text("Connected")
    page.locator("#helper-scroll").evaluate("el => { el.scrollTop = 0; }")
    box = other.get_by_label("Your question for the helper")
    box.fill("What does Kilo mean?")
    box.press("Enter")
    asked = page.locator("#helper-messages .msg-user").last
    expect(asked).to_contain_text("What does Kilo mean?")
    expect(asked).not_to_be_in_viewport()
    expect(cue).to_be_visible()
    expect(page.locator("#helper-messages .msg-helper").last).not_to_contain_text("Frage")
    page.bring_to_front()
    cue.click()
    expect(cue).to_be_hidden()
    newest = page.locator("#helper-messages .msg").last
    expect(newest).to_be_in_viewport()
    expect(newest).to_be_focused()

    # Scrolling down to it by hand puts the cue away too; at the foot, none comes.
    page.locator("#helper-scroll").evaluate("el => { el.scrollTop = 0; }")
    box.fill("And Gramm?")
    box.press("Enter")
    expect(cue).to_be_visible()
    expect(page.locator("#helper-messages .msg-helper")).to_have_count(23)  # its answer too
    page.locator("#helper-scroll").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(cue).to_be_hidden()
    box.fill("And Pfund?")
    box.press("Enter")
    expect(page.locator("#helper-messages .msg-user").last).to_contain_text("And Pfund?")
    expect(page.locator("#helper-messages .msg-helper").last).not_to_contain_text("Frage")
    expect(cue).to_be_hidden()


@pytest.mark.parametrize(
    ("zone", "language", "name"),
    [
        ("America/New_York", "de-DE", "EST"),  # said "GMT-5" (the last note)
        ("America/Los_Angeles", "en-US", "PST"),
        ("Europe/Berlin", "en-US", "CET"),  # American English says "GMT+1"
        ("Asia/Kolkata", "en-IN", "IST"),
        ("Asia/Kolkata", "en-US", "IST"),  # said "GMT+5:30" (a newcomer's recheck)
        ("Australia/Sydney", "en-GB", "AEDT"),
        ("Asia/Tokyo", "en-GB", "GMT+9"),  # no English name: the offset
    ],
)
def test_a_local_time_names_the_zone_as_its_people_do(browser, daphne_server, zone, language, name):
    from playwright.sync_api import expect

    from tests.journey_helpers import set_week

    user = User.objects.create_user("erin@example.com", None)
    set_week(user, completed=3)
    context = browser.new_context(timezone_id=zone, locale=language)
    context.add_cookies(
        [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
    )
    page = context.new_page()
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/")
    expect(page.locator("time[data-local-time]").first).to_have_text(
        re.compile(rf"^\w+day,? \d+ \w+(,| at) \d\d:\d\d {re.escape(name)}$")
    )
    assert problems == []
    context.close()
