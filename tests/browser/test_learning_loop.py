"""The learning loop in headless Chromium, offline: "Explain" asks the helper about the
character's line, "Keep" saves a line to the deck, and the deck's card comes up in /review/."""

import re

import pytest

from accounts.models import User
from chat import conversations
from scenarios.models import Scenario
from tests.browser.conftest import needs_chromium, watch_for_problems
from tests.support.logins import login_session_key

KEEP_A_LINE = re.compile("^Keep “.*” in your deck$")  # a role-play line's button

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _open_chat(daphne_server, browser, user, session):
    """The learner's chat page, connected, and the problems the page reports."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(page.locator("#connection")).to_contain_text("Connected")
    # The connection's sync redraws the messages: a Keep clicked before it drew its answer
    # in a line the sync then replaced (on a busy machine).
    expect(page.locator("#chat[data-synced]")).to_have_count(1)
    # And htmx has readied what the sync drew (it does so as the swap settles): an Enter on
    # "Keep all" before that sent its form as the browser does, and the page was drawn anew,
    # the focus with it (CI's replay, on a busy machine).
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#chat [hx-post]'))"
        ".every(element => (element['htmx-internal-data'] || {}).initHash)"
    )
    return page, problems


def _open(daphne_server, browser, user, path: str, viewport=None):
    """A page of the learner's, and the problems it reports."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
    context.add_cookies(
        [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
    )
    page = context.new_page()
    problems = watch_for_problems(page)
    page.goto(f"{daphne_server}{path}")
    return page, problems


def _completed_with_report(user, words: list[tuple[str, str]], lines: tuple[str, ...] = ()):
    """A completed bakery scene of the learner's whose offline report has these words, and
    these lines of the character's after its opening."""
    from chat.models import SceneReport
    from lib.rls import acting_as_staff
    from scenarios import lifecycle
    from tests.conftest import add_message

    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    for line in lines:
        add_message(session, "scenario", "main", line)
    lifecycle.complete_session(user.pk, session.pk, main_messages=16, ended_by="model")
    content = {"words": [{"german": german, "gloss": gloss} for german, gloss in words]}
    with acting_as_staff():
        SceneReport.objects.update_or_create(
            session_id=session.pk,
            defaults={"status": "ready", "kind": "offline", "content": content},
        )
    return session


def test_explain_and_keep_from_the_chat_then_review(daphne_server, browser):
    from playwright.sync_api import expect

    user = User.objects.create_user("emil@example.com", None)
    scene = Scenario.objects.get(code="bakery")
    session = conversations.start(user.pk, scene)
    page, problems = _open_chat(daphne_server, browser, user, session)

    opener = page.locator("#main-messages .msg").first
    # Every line's buttons had the same names, with nothing to say which line they act on.
    expect(opener.get_by_role("button", name="Explain")).to_have_accessible_description(
        re.compile(re.escape(scene.initial_message_main))
    )
    expect(opener.get_by_role("button", name=KEEP_A_LINE)).to_have_accessible_name(
        re.compile("^Keep “" + re.escape(scene.initial_message_main[:40]))
    )
    opener.get_by_role("button", name="Explain").click()
    helper = page.locator("#helper-messages")
    expect(helper).to_contain_text(f"Explain this line: „{scene.initial_message_main}“")
    expect(helper).to_contain_text("Offline mode: without the model I cannot read this line")
    expect(page.locator("#main-messages .msg")).to_have_count(1)  # the role-play is untouched

    # A helper answer's Keep, with nothing selected: it changed its own label, which nothing
    # announced; then it said to select words, which a keyboard cannot (a newcomer's walk): it
    # offers the German the answer quotes, and says so ("Keep selection" hid them: the next
    # walk).
    # On a short window what it said sat below the fold of the helper's list.
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 400})
    answer = helper.locator(".msg-helper").last
    answer.get_by_role("button", name="Keep a phrase").click()
    phrases = answer.get_by_role("group", name=re.compile("^Keep one of its phrases"))
    expect(phrases.get_by_role("button").first).to_be_focused()
    expect(phrases).to_be_in_viewport(ratio=0.95)
    page.set_viewport_size(size)

    opener.get_by_role("button", name=KEEP_A_LINE).click()
    expect(opener.locator(".kept")).to_have_text("Kept ✓")
    size = "e => getComputedStyle(e).fontSize"  # "Kept" takes Keep's place at Keep's size
    assert opener.locator(".kept").evaluate(size) == opener.locator(".msg-action").first.evaluate(
        size
    )

    page.goto(f"{daphne_server}/review/")
    expect(page.locator(".review-german")).to_have_text(scene.initial_message_main)
    page.get_by_text("Show the meaning").click()
    # Open, it says what it does now (it still read "Show the meaning": a newcomer's walk).
    expect(page.locator(".review-back summary")).to_have_text(
        "Hide the meaning", use_inner_text=True
    )
    page.get_by_role("button", name="Good").click()
    expect(page.locator("main")).to_contain_text("Nothing is due right now")
    assert problems == []


SELECT = """([fromText, fromAt, toText, toAt]) => {
  const start = document.querySelector(fromText).lastChild;
  const end = document.querySelector(toText).lastChild;
  const range = document.createRange();
  range.setStart(start, fromAt);
  range.setEnd(end, toAt);
  getSelection().removeAllRanges();
  getSelection().addRange(range);
}"""


def test_keep_selection_keeps_words_within_its_answer_only(daphne_server, browser):
    """A selection from one helper answer into the next kept button labels, the hidden
    speaker label and the other line (the attacker's replay); a triple-click, which ends past
    the answer, was then refused (the recheck)."""
    from playwright.sync_api import expect

    from learning import deck
    from tests.conftest import add_message

    user = User.objects.create_user("gesa@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    first = add_message(session, "helper", "helper", "Say: das Brötchen kostet 50 Cent.")
    second = add_message(session, "helper", "helper", "And: das Croissant, bitte.")
    page, problems = _open_chat(daphne_server, browser, user, session)
    answer = page.locator(f"#msg-{first.pk}")
    # Selected only in the other answer: nothing of this one.
    page.evaluate(SELECT, [f"#msg-{second.pk}-text", 5, f"#msg-{second.pk}-text", 9])
    answer.get_by_role("button", name="Keep selection").click()
    expect(answer.get_by_role("alert")).to_have_text(
        "Select German words in this answer first, then Keep selection."
    )
    # From this answer into the next: this answer's part.
    page.evaluate(SELECT, [f"#msg-{first.pk}-text", 5, f"#msg-{second.pk}-text", 9])
    answer.get_by_role("button", name="Keep selection").click()
    expect(answer.locator(".kept")).to_have_text("Kept „das Brötchen kostet 50 Cent.“ ✓")
    # A triple-click on the other answer: all of its text.
    other = page.locator(f"#msg-{second.pk}")
    other.locator(".msg-text").click(click_count=3)
    other.get_by_role("button", name="Keep selection").click()
    expect(other.locator(".kept")).to_have_text("Kept „And: das Croissant, bitte.“ ✓")
    assert sorted(card.german for card in deck.all_cards(user.pk)) == [
        "And: das Croissant, bitte.",
        "das Brötchen kostet 50 Cent.",
    ]
    assert problems == []


def test_keeping_a_line_marks_its_other_copies_on_the_page(daphne_server, browser):
    """A line said twice: after "Keep" on one, the other still offered "Keep" until a reload
    (it answered "In your deck"). The deck holds a line once whatever its case, as a reload
    draws it: a copy in other case is marked too; one in other words keeps its Keep."""
    from playwright.sync_api import expect

    from tests.conftest import add_message

    user = User.objects.create_user("frieda@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    for role, words in (
        ("user", "Ein Brötchen, bitte."),
        ("scenario", "Noch etwas?"),
        ("user", "Ein Brötchen, bitte."),
        ("user", "ein brötchen, bitte."),
    ):
        add_message(session, role, "main", words)
    page, problems = _open_chat(daphne_server, browser, user, session)

    lines = page.locator("#main-messages .msg")
    first, other, again, lower = lines.nth(1), lines.nth(2), lines.nth(3), lines.nth(4)
    first.get_by_role("button", name=KEEP_A_LINE).click()
    expect(first.locator(".kept")).to_have_text("Kept ✓")
    expect(again.locator(".kept")).to_have_text("In your deck ✓")
    expect(again.get_by_role("button", name=KEEP_A_LINE)).to_have_count(0)
    expect(other.get_by_role("button", name=KEEP_A_LINE)).to_have_count(1)
    expect(lower.locator(".kept")).to_have_text("In your deck ✓")
    expect(lower.get_by_role("button", name=KEEP_A_LINE)).to_have_count(0)
    page.reload()
    page.wait_for_function("() => document.getElementById('chat').dataset.synced === 'yes'")
    expect(lower.locator(".kept")).to_have_text("In your deck ✓")
    expect(other.get_by_role("button", name=KEEP_A_LINE)).to_have_count(1)
    assert problems == []


def test_a_line_kept_in_one_tab_is_marked_in_the_other(daphne_server, browser):
    """The other tab offered "Keep" until a reload (clicking it said "In your deck"), and a
    focus on it fell to the page when it was marked."""
    from playwright.sync_api import expect

    user = User.objects.create_user("greta@example.com", None)
    scene = Scenario.objects.get(code="bakery")
    session = conversations.start(user.pk, scene)
    here, problems_here = _open_chat(daphne_server, browser, user, session)
    there, problems_there = _open_chat(daphne_server, browser, user, session)
    opener = there.locator("#main-messages .msg").first
    opener.get_by_role("button", name=KEEP_A_LINE).focus()  # from the keyboard

    here.locator("#main-messages .msg").first.get_by_role("button", name=KEEP_A_LINE).click()
    expect(here.locator("#main-messages .msg .kept")).to_have_text("Kept ✓")
    expect(opener.locator(".kept")).to_have_text("In your deck ✓")
    expect(opener.get_by_role("button", name=KEEP_A_LINE)).to_have_count(0)
    # The focus goes to what took the Keep's place: it fell to the page (the recheck replay).
    expect(opener.locator(".kept")).to_be_focused()
    assert problems_here == problems_there == []


def test_a_reports_keep_all_names_what_is_left_as_words_or_phrases(daphne_server, browser):
    """After one Keep it said "Keep the other 2 words" of a word and a phrase; a reload said
    "words and phrases" (a newcomer's recheck)."""
    from playwright.sync_api import expect

    user = User.objects.create_user("ines@example.com", None)
    words = [("das Brötchen", "the bread roll"), ("Ich hätte gern …", "I'd like …"), ("bitte", "")]
    session = _completed_with_report(user, words)
    page, problems = _open_chat(daphne_server, browser, user, session)
    keep_all = page.locator("#report > .keep-form button")
    expect(keep_all).to_have_text("Keep all 3 words and phrases")
    page.locator(".report-words li").first.get_by_role("button").click()
    expect(keep_all).to_have_text("Keep the other 2 words and phrases")
    page.locator(".report-words li").nth(2).get_by_role("button").click()
    expect(keep_all).to_have_text("Keep the other phrase")
    assert problems == []


def test_a_report_word_kept_from_the_keyboard_takes_the_focus_and_is_marked_in_the_other_tab(
    daphne_server, browser
):
    """Keep pressed with Enter: the focus fell back to the whole page. Another tab's report
    offered "Keep" for the word until a reload."""
    from playwright.sync_api import expect

    user = User.objects.create_user("hanna@example.com", None)
    session = _completed_with_report(user, [("das Brötchen", "the bread roll"), ("bitte", "")])
    here, problems_here = _open_chat(daphne_server, browser, user, session)
    there, problems_there = _open_chat(daphne_server, browser, user, session)
    for page in (here, there):
        expect(page.locator(".report-words li")).to_have_count(2)

    # Text selected on the page, outside any chat line: the report's Keep threw an error.
    here.locator("#report-title").select_text()
    here.locator(".report-words li").first.get_by_role("button").focus()
    here.keyboard.press("Enter")
    kept = here.locator(".report-words li").first.locator(".kept")
    expect(kept).to_have_text("Kept „das Brötchen“ ✓")  # which (it said "Kept": a newcomer's walk)
    expect(kept).to_be_focused()
    word, other = there.locator(".report-words li").first, there.locator(".report-words li").nth(1)
    expect(word.locator(".kept")).to_have_text("In your deck ✓")
    expect(other.locator(".keep-form")).to_have_count(1)
    # How many are left to keep (it said "all 2" still: a newcomer's walk), in either tab.
    keep_all = there.locator("#report > .keep-form button")
    expect(keep_all).to_have_text("Keep the other word")
    expect(here.locator("#report > .keep-form button")).to_have_text("Keep the other word")

    here.locator(".report-words li").nth(1).get_by_role("button").click()
    expect(other.locator(".kept")).to_have_text("In your deck ✓")
    expect(keep_all).to_have_count(0)  # nothing left for it to keep, in either tab
    expect(here.locator("#report > .keep-form")).to_have_count(0)
    assert problems_here == problems_there == []


def test_a_reconnect_leaves_the_focus_in_a_completed_scenes_report(daphne_server, browser):
    """A sync (a reconnect) drew the completion again, and took the focus to it from where the
    learner was in the report: "Keep all" pressed then left the focus nowhere (CI's replay)."""
    from playwright.sync_api import expect

    from tests.browser.test_chat_page_state import _closable_sockets_counting_syncs

    user = User.objects.create_user("jule@example.com", None)
    session = _completed_with_report(user, [("das Brötchen", "the bread roll"), ("bitte", "")])
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [{"name": "sessionid", "value": login_session_key(user), "url": daphne_server}]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    sockets = _closable_sockets_counting_syncs(page)
    page.goto(f"{daphne_server}/sessions/{session.pk}/")
    expect(page.locator("#chat[data-synced]")).to_have_count(1)
    expect(page.locator("#completion")).to_be_focused()  # the scene's end, said once
    page.get_by_role("button", name="Keep all 2 words").focus()
    syncs = page.evaluate("window.syncs")
    sockets[-1].close(code=1012)
    page.wait_for_function(f"() => window.syncs === {syncs + 1}")
    expect(page.get_by_role("button", name="Keep all 2 words")).to_be_focused()
    context.close()


def test_a_keep_that_is_refused_says_why(daphne_server, browser):
    """A refused Keep (too many at once, a full deck, a bad word) showed nothing at all."""
    from playwright.sync_api import expect

    user = User.objects.create_user("ida@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    page, problems = _open_chat(daphne_server, browser, user, session)

    opener = page.locator("#main-messages .msg").first
    opener.locator('input[name="german"]').evaluate("field => { field.value = '   '; }")
    opener.get_by_role("button", name=KEEP_A_LINE).click()
    expect(opener.get_by_role("alert")).to_have_text(
        "Choose a word: letters or numbers, not only spaces."
    )
    expect(opener.locator(".keep-form")).to_have_count(1)  # still there, to try again
    assert [p for p in problems if "400" not in p] == []  # the browser logs the refusal


def test_keep_all_from_the_keyboard_gives_the_focus_to_the_report(daphne_server, browser):
    """ "Keep all" pressed with Enter draws the report again, every word kept: the focus fell
    to the page, and the next Tab started from its top (the recheck replay)."""
    from playwright.sync_api import expect

    user = User.objects.create_user("jana@example.com", None)
    words = [("das Brötchen", "the bread roll"), ("bitte", "please")]
    session = _completed_with_report(user, words)
    page, problems = _open_chat(daphne_server, browser, user, session)
    page.get_by_role("button", name="Keep all 2 words").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".report-words .kept")).to_have_count(2)
    expect(page.locator("#report-title")).to_be_focused()
    # And it is said (nothing was, a newcomer's walk).
    expect(page.locator("#report-said")).to_have_text("All 2 words of the report are in your deck.")
    assert problems == []


def test_a_report_that_comes_while_the_page_is_open_is_said(daphne_server, browser):
    """The "being written" status was replaced by the report, which no screen reader said (a
    newcomer's walk)."""
    from playwright.sync_api import expect

    from chat.models import SceneReport
    from lib.rls import acting_as_staff
    from scenarios import lifecycle

    user = User.objects.create_user("lotte@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    lifecycle.complete_session(user.pk, session.pk, main_messages=16, ended_by="model")
    with acting_as_staff():
        SceneReport.objects.update_or_create(session_id=session.pk, defaults={"status": "pending"})
    page, problems = _open_chat(daphne_server, browser, user, session)
    page.goto(f"{daphne_server}/history/{session.pk}/")
    expect(page.locator("#report")).to_have_text("Your report is being written\u2026")
    content = {"words": [{"german": "bitte", "gloss": "please"}]}
    with acting_as_staff():
        SceneReport.objects.filter(session_id=session.pk).update(
            status="ready", kind="offline", content=content
        )
    expect(page.locator("#report-title")).to_have_text("Your report")
    expect(page.locator("#report-said")).to_have_text("Your report is ready, below.")
    assert problems == []


def test_a_role_play_lines_keep_names_the_words_selected_in_it(daphne_server, browser):
    """A selection in a role-play line is what its Keep keeps, and the button says so: its
    name quoted the whole line (the last note's left item)."""
    from playwright.sync_api import expect

    from learning import deck
    from tests.conftest import add_message

    user = User.objects.create_user("hanna@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    line = add_message(session, "scenario", "main", "Das Brötchen kostet fünfzig Cent.")
    page, problems = _open_chat(daphne_server, browser, user, session)
    message = page.locator(f"#msg-{line.pk}")
    whole = "Keep “Das Brötchen kostet fünfzig Cent.” in your deck"
    expect(message.get_by_role("button", name=KEEP_A_LINE)).to_have_accessible_name(whole)

    page.evaluate(SELECT, [f"#msg-{line.pk}-text", 4, f"#msg-{line.pk}-text", 12])
    button = message.locator(".keep-form button")
    expect(button).to_have_accessible_name("Keep selection “Brötchen” in your deck")
    shown = "b => b.firstChild.textContent"  # what a sighted learner reads on it
    assert button.evaluate(shown) == "Keep selection"
    page.evaluate("getSelection().removeAllRanges()")
    expect(button).to_have_accessible_name(whole)
    assert button.evaluate(shown) == "Keep"

    page.evaluate(SELECT, [f"#msg-{line.pk}-text", 4, f"#msg-{line.pk}-text", 12])
    expect(button).to_have_accessible_name("Keep selection “Brötchen” in your deck")
    button.click()
    # It says which words it kept, and stays for more of them: it became "Kept ✓", and a
    # second word of the line needed a reload (a newcomer's recheck).
    expect(message.locator(".kept")).to_have_text("Kept „Brötchen“ ✓")
    page.evaluate(SELECT, [f"#msg-{line.pk}-text", 20, f"#msg-{line.pk}-text", 27])
    expect(button).to_have_accessible_name("Keep selection “fünfzig” in your deck")
    button.click()
    expect(message.locator(".kept")).to_have_text("Kept „fünfzig“ ✓")
    assert sorted(card.german for card in deck.all_cards(user.pk)) == ["Brötchen", "fünfzig"]
    assert problems == []


def test_a_word_selected_in_part_is_kept_whole(daphne_server, browser):
    """A drag that began or ended inside a word kept the part selected: "Freut m" was a card
    (a newcomer's walk)."""
    from playwright.sync_api import expect

    from learning import deck
    from tests.conftest import add_message

    user = User.objects.create_user("jana@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="party"))
    line = add_message(session, "scenario", "main", "Freut mich! Ich bin Lea, und du?")
    page, problems = _open_chat(daphne_server, browser, user, session)
    message = page.locator(f"#msg-{line.pk}")
    text = f"#msg-{line.pk}-text"
    page.evaluate(SELECT, [text, 2, text, 7])  # "eut m"
    button = message.locator(".keep-form button")
    expect(button).to_have_accessible_name("Keep selection \u201cFreut mich\u201d in your deck")
    button.click()
    expect(message.locator(".kept")).to_have_text("Kept \u201eFreut mich\u201c \u2713")
    page.evaluate(SELECT, [text, 19, text, 21])  # "ea", up to the comma
    expect(button).to_have_accessible_name("Keep selection \u201cLea\u201d in your deck")
    page.evaluate(SELECT, [text, 11, text, 12])  # a space alone: nothing to take whole
    expect(button).to_have_accessible_name(re.compile("^Keep \u201cFreut mich! Ich bin"))
    assert sorted(card.german for card in deck.all_cards(user.pk)) == ["Freut mich"]
    # Not the marks around a word, and a word's joiners and letters beyond the first 65,536
    # (a selection in \u2018Semmel\u2019 kept its closing quote, one to a comma kept it, and
    # "Mail" of "E\u2011Mail" stayed "Mail": the attacker's second recheck).
    line = "Nimm \u2018Semmel\u2019, H\u00e4hnchen, E\u2011Mail, \U0001d407und."
    other = add_message(session, "scenario", "main", line)
    page.reload()
    page.wait_for_selector("#chat[data-synced]")
    message, text = page.locator(f"#msg-{other.pk}"), f"#msg-{other.pk}-text"
    button = message.locator(".keep-form button")
    for (at, to), words in {
        (6, 12): "Semmel",  # inside its quotes
        (6, 13): "Semmel",  # with the closing quote
        (16, 24): "H\u00e4hnchen",  # "\u00e4hnchen," to the comma
        (27, 31): "E\u2011Mail",  # "Mail"
        (35, 38): "\U0001d407und",  # "und" (its first letter is two units)
        (35, 39): "\U0001d407und",  # and the period after
    }.items():
        page.evaluate(SELECT, [text, at, text, to])
        expect(button).to_have_accessible_name(f"Keep selection \u201c{words}\u201d in your deck")
    assert problems == []


def test_words_of_a_line_kept_whole_can_be_kept_too(daphne_server, browser):
    """Once the line was in the deck it had no Keep, and none of its words could be kept (the
    last note)."""
    from playwright.sync_api import expect

    from learning import deck
    from tests.conftest import add_message

    user = User.objects.create_user("ines@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    line = add_message(session, "scenario", "main", "Das Brötchen kostet fünfzig Cent.")
    page, problems = _open_chat(daphne_server, browser, user, session)
    page.wait_for_function("() => document.getElementById('chat').dataset.synced === 'yes'")
    message, text = page.locator(f"#msg-{line.pk}"), f"#msg-{line.pk}-text"
    message.get_by_role("button", name=KEEP_A_LINE).click()
    expect(message.locator(".kept")).to_have_text("Kept ✓")
    button = message.locator(".msg-actions > .keep-form button")
    expect(button).to_be_hidden()  # nothing selected: nothing more to keep (Keep words lists)

    page.evaluate(SELECT, [text, 4, text, 12])
    expect(button).to_have_accessible_name("Keep selection “Brötchen” in your deck")
    button.click()
    expect(message.locator(".kept-words")).to_have_text("Kept „Brötchen“ ✓")

    page.reload()  # drawn by the server as in the deck, with the same Keep for its words
    page.wait_for_function("() => document.getElementById('chat').dataset.synced === 'yes'")
    expect(message.locator(".kept")).to_have_text("In your deck ✓")
    expect(button).to_be_hidden()
    page.evaluate(SELECT, [text, 20, text, 27])
    button.click()
    expect(message.locator(".kept-words")).to_have_text("Kept „fünfzig“ ✓")
    page.evaluate("getSelection().removeAllRanges()")
    expect(button).to_be_hidden()
    kept = sorted(card.german for card in deck.all_cards(user.pk))
    assert kept == ["Brötchen", "Das Brötchen kostet fünfzig Cent.", "fünfzig"]
    assert problems == []


def test_a_word_of_a_role_play_line_can_be_kept_from_the_keyboard(daphne_server, browser):
    """Only a selection could keep a word of a line, and a keyboard cannot select one (the last
    note's left item): "Keep words" lists them, under every line, kept whole or not."""
    from playwright.sync_api import expect

    from learning import deck
    from tests.conftest import add_message

    user = User.objects.create_user("jola@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    line = add_message(session, "user", "main", "Zwei Brötchen, bitte! Und zwei Brezeln.")
    later = add_message(session, "scenario", "main", "BREZELN? Gern!")
    deck.keep(user.pk, "brötchen")
    page, problems = _open_chat(daphne_server, browser, user, session)
    other = page.locator(f"#msg-{later.pk}")
    other.get_by_role("button", name=re.compile("^Keep words of “BREZELN")).click()
    other_words = other.get_by_role("group", name=re.compile("^Its words"))
    expect(other_words.get_by_role("button", name="Keep „BREZELN“")).to_be_focused()  # settled
    message = page.locator(f"#msg-{line.pk}")
    keep_words = message.get_by_role("button", name=re.compile("^Keep words of “Zwei"))
    keep_words.focus()
    expect(keep_words).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(keep_words).to_have_attribute("aria-expanded", "true")
    words = message.get_by_role("group", name=re.compile("^Its words"))
    # Each once, whatever its case; one in the deck says so.
    names = ["Keep „zwei“", "Keep „bitte“", "Keep „und“", "Keep „Brezeln“"]
    names.append(re.compile("^Keep them, from “Zwei Brötchen, bitte! Und zwei Brezeln.”, in"))
    expect(words.get_by_role("button")).to_have_text(names)
    expect(words.locator(".kept")).to_have_text("„Brötchen“ in your deck ✓")
    expect(words.get_by_role("button", name="Keep „zwei“")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(words.get_by_role("button", name="Keep „Brezeln“")).to_be_focused()
    page.keyboard.press("Enter")
    expect(words.locator(".kept").last).to_have_text("Kept „Brezeln“ ✓")
    expect(words.locator(".kept").last).to_be_focused()
    # The deck holds a word once whatever its case: another list offering it says so.
    expect(other_words.locator(".kept")).to_have_text("„BREZELN“ in your deck ✓")
    [brezeln] = [card for card in deck.all_cards(user.pk) if card.german == "Brezeln"]
    assert brezeln.example == "Und zwei Brezeln." and brezeln.scenario_id == session.scenario_id
    assert len(deck.all_cards(user.pk)) == 2  # the line itself was not kept

    # Words selected in the learner's own line show as selected on its blue (they were dark
    # blue on blue: a newcomer's walk).
    selected = "e => getComputedStyle(e, '::selection').backgroundColor"
    assert message.locator(".msg-text").evaluate(selected) == "rgb(255, 255, 255)"

    # Escape closes it too, and hands the focus back (it closed nothing: a newcomer's walk).
    words.get_by_role("button").first.focus()
    page.keyboard.press("Escape")
    expect(keep_words).to_have_attribute("aria-expanded", "false")
    expect(keep_words).to_be_focused()
    page.keyboard.press("Enter")
    expect(words.get_by_role("button").first).to_be_focused()

    # Pressed again, it closes the list.
    keep_words.focus()
    page.keyboard.press("Enter")
    expect(keep_words).to_have_attribute("aria-expanded", "false")
    expect(words).to_have_count(0)

    # Words that cannot be fetched say so, beside the line, and only there (a failed
    # connection was an uncaught error too: the recheck).
    unfetched = "Its words could not be fetched just now. Try again in a moment."
    page.route(re.compile(r"/words/$"), lambda route: route.fulfill(status=503, body="busy"))
    keep_words.click()
    expect(message.get_by_role("alert")).to_have_text(unfetched)
    page.unroute(re.compile(r"/words/$"))
    page.route(re.compile(r"/words/$"), lambda route: route.abort())
    message.get_by_role("alert").evaluate("note => note.remove()")
    keep_words.click()
    expect(message.get_by_role("alert")).to_have_text(unfetched)
    expect(keep_words).to_have_attribute("aria-expanded", "false")
    # What the browser and htmx log of the failures themselves, and nothing more.
    logged = ("503", "ERR_FAILED", "htmx:afterRequest", "htmx:sendError")
    assert [p for p in problems if not any(what in p for what in logged)] == []

    # Pressed twice before its list came, it asks once and opens it.
    page.unroute(re.compile(r"/words/$"))
    asked = []
    page.on(
        "request", lambda request: asked.append(request.url) if "/words/" in request.url else None
    )
    keep_words.dblclick()
    expect(keep_words).to_have_attribute("aria-expanded", "true")
    expect(words).to_have_count(1)
    assert len(asked) == 1


def test_words_of_a_line_side_by_side_can_be_kept_from_the_keyboard(daphne_server, browser):
    """A line's "Keep words" listed its words one by one, so a phrase of it ("Brötchen,
    bitte") could be kept only with a mouse (the last note's left item): they are typed under
    the list, and kept as the line has them."""
    from playwright.sync_api import expect

    from learning import deck
    from tests.conftest import add_message

    user = User.objects.create_user("ines@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    line = add_message(session, "scenario", "main", "Zwei Brötchen, bitte! Was darf's sein?")
    page, problems = _open_chat(daphne_server, browser, user, session)
    message = page.locator(f"#msg-{line.pk}")
    message.get_by_role("button", name=re.compile("^Keep words of “Zwei")).focus()
    page.keyboard.press("Enter")
    words = message.get_by_role("group", name=re.compile("^Its words"))
    expect(words.get_by_role("button", name="Keep „zwei“")).to_be_focused()
    typed = words.get_by_role("textbox", name="Or type several, as they stand together:")
    for _ in range(6):  # past the line's six words ("darf's" is one)
        page.keyboard.press("Tab")
    expect(typed).to_be_focused()
    page.keyboard.type("brötchen bitte")
    page.keyboard.press("Enter")
    said = words.locator(".kept-words")
    expect(said).to_have_text("Kept „Brötchen, bitte“ ✓")
    expect(typed).to_have_value("")  # for more, with the focus still there
    expect(typed).to_be_focused()

    # Words the line does not have side by side are refused, beside the box, which keeps them.
    page.keyboard.type("Brötchen sein")
    page.keyboard.press("Enter")
    expect(words.get_by_role("alert")).to_have_text(
        "Those words are not side by side in one sentence of this line: type them as it has them."
    )
    expect(typed).to_have_value("Brötchen sein")
    expect(said).to_have_count(0)  # what was kept before is not what the box holds
    # The box says so when the focus comes back to it (a newcomer's walk).
    expect(typed).to_have_attribute("aria-invalid", "true")
    expect(typed).to_have_accessible_description(re.compile("^Those words are not side by side"))
    # As the chat's boxes, 16 px on a phone: a phone's browser zoomed in on a smaller one.
    page.set_viewport_size({"width": 390, "height": 844})
    assert typed.evaluate("box => getComputedStyle(box).fontSize") == "16px"
    page.set_viewport_size({"width": 1280, "height": 800})
    # Changed, the words are no longer what was refused (it said so until the next Keep: the
    # attacker's recheck).
    page.keyboard.press("Backspace")
    expect(typed).not_to_have_attribute("aria-invalid", "true")
    expect(words.get_by_role("alert")).to_have_count(0)

    # One word typed is the listed one, written small as listed: the list marks it kept.
    typed.fill("ZWEI")
    page.keyboard.press("Enter")
    expect(words.locator(".kept-words")).to_have_text("Kept „zwei“ ✓")
    expect(words.get_by_role("alert")).to_have_count(0)
    expect(typed).not_to_have_attribute("aria-invalid", "true")
    expect(words.locator("> .kept")).to_have_text("„zwei“ in your deck ✓")
    kept = sorted(card.german for card in deck.all_cards(user.pk))
    assert kept == ["Brötchen, bitte", "zwei"]
    assert [p for p in problems if "400" not in p] == []


def test_a_transcript_keeps_lines_and_their_words_from_the_keyboard(daphne_server, browser):
    """The transcript kept whole lines only, and a Keep pressed there dropped the focus to the
    page (the last note's left item)."""
    from playwright.sync_api import expect

    from learning import deck
    from scenarios import lifecycle
    from tests.conftest import add_message

    user = User.objects.create_user("kira@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    line = add_message(session, "scenario", "main", "Ein Brot und zwei Brezeln, bitte.")
    later = add_message(session, "scenario", "main", "BREZELN sind aus.")
    lifecycle.complete_session(user.pk, session.pk, main_messages=16, ended_by="model")
    page, problems = _open_chat(daphne_server, browser, user, session)
    page.goto(f"{daphne_server}/history/{session.pk}/")
    message = page.locator(f"#msg-{line.pk}")
    message.get_by_role("button", name=KEEP_A_LINE).focus()
    page.keyboard.press("Enter")
    expect(message.locator(".kept")).to_have_text("Kept ✓")
    expect(message.locator(".kept")).to_be_focused()

    # A later line's list, open: a word kept in another list is marked in it (it was offered
    # still, on the transcript, which no socket tells).
    other = page.locator(f"#msg-{later.pk}")
    other.get_by_role("button", name=re.compile("^Keep words of “BREZELN")).click()
    other_words = other.get_by_role("group", name=re.compile("^Its words"))
    expect(other_words.get_by_role("button", name="Keep „BREZELN“")).to_be_focused()  # settled
    message.get_by_role("button", name=re.compile("^Keep words of “Ein Brot")).focus()
    page.keyboard.press("Enter")
    words = message.get_by_role("group", name=re.compile("^Its words"))
    expect(words.get_by_role("button", name="Keep „Ein“")).to_be_focused()
    words.get_by_role("button", name="Keep „Brezeln“").focus()
    page.keyboard.press("Enter")
    expect(words.locator(".kept")).to_have_text("Kept „Brezeln“ ✓")
    expect(words.locator(".kept")).to_be_focused()
    expect(other_words.locator(".kept")).to_have_text("„BREZELN“ in your deck ✓")
    expect(other_words.get_by_role("button")).to_have_count(3)  # "sind", "aus", typed words
    [brezeln] = [card for card in deck.all_cards(user.pk) if card.german == "Brezeln"]
    assert brezeln.example == "Ein Brot und zwei Brezeln, bitte."
    assert brezeln.scenario_id == session.scenario_id

    # Words selected in a line: its Keep keeps them, as on the chat page (it kept the line
    # whole, and said "Kept ✓": a newcomer's walk).
    text = f"#msg-{later.pk}-text"
    button = other.locator(".msg-actions > .keep-form button")
    page.evaluate(SELECT, [text, 8, text, 12])  # "sind"
    expect(button).to_have_accessible_name("Keep selection “sind” in your deck")
    button.click()
    expect(other.locator(".kept-words")).to_have_text("Kept „sind“ ✓")
    kept = sorted(card.german for card in deck.all_cards(user.pk))
    assert kept == ["Brezeln", "Ein Brot und zwei Brezeln, bitte.", "sind"]
    assert problems == []


def test_a_helper_answers_german_can_be_kept_from_the_keyboard_and_its_english_cannot(
    daphne_server, browser
):
    """Without a mouse nothing could be kept from a helper answer, and with one its English
    was kept as German cards (a newcomer's walk)."""
    from playwright.sync_api import expect

    from learning import deck
    from tests.conftest import add_message

    user = User.objects.create_user("ilse@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    text = (
        'Say "Ich hätte gern vier Brötchen." (I\'d like four bread rolls.) Plural: „die Brötchen“.'
    )
    answer = add_message(session, "helper", "helper", text)
    page, problems = _open_chat(daphne_server, browser, user, session)
    message = page.locator(f"#msg-{answer.pk}")

    message.get_by_role("button", name="Keep a phrase").focus()
    expect(message.get_by_role("button", name="Keep a phrase")).to_have_attribute(
        "aria-expanded", "false"
    )
    page.keyboard.press("Enter")
    # It says it opens and closes a list (a newcomer's walk).
    expect(message.get_by_role("button", name="Keep a phrase")).to_have_attribute(
        "aria-expanded", "true"
    )
    phrases = message.get_by_role("group", name=re.compile("^Keep one of its phrases"))
    first = phrases.get_by_role(
        "button", name="Keep „Ich hätte gern vier Brötchen.“ (I'd like four bread rolls.)"
    )
    expect(first).to_be_focused()
    expect(phrases.get_by_role("button")).to_have_count(2)
    # Escape, or Keep a phrase pressed again, closes the list (it could not be: a
    # newcomer's walk).
    page.keyboard.press("Escape")
    expect(phrases).to_be_hidden()
    keep = message.get_by_role("button", name="Keep a phrase")
    expect(keep).to_be_focused()
    expect(keep).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(first).to_be_focused()
    keep.focus()
    page.keyboard.press("Enter")
    expect(phrases).to_be_hidden()
    page.keyboard.press("Enter")
    expect(first).to_be_focused()
    page.keyboard.press("Enter")
    expect(phrases.locator(".kept")).to_have_text("Kept „Ich hätte gern vier Brötchen.“ ✓")
    [card] = deck.all_cards(user.pk)
    assert (card.german, card.gloss) == (
        "Ich hätte gern vier Brötchen.",
        "I'd like four bread rolls.",
    )

    start = text.index("I'd")
    page.evaluate(SELECT, [f"#msg-{answer.pk}-text", start, f"#msg-{answer.pk}-text", start + 13])
    message.get_by_role("button", name="Keep selection").click()
    expect(message.get_by_role("alert")).to_contain_text("Only the German the helper quotes")
    assert len(deck.all_cards(user.pk)) == 1
    # Then its German, selected: kept with the gloss the answer gives it (it came without
    # one), and the refusal goes (it stayed beside "Kept": a newcomer's recheck).
    start = text.index("die Br")
    page.evaluate(SELECT, [f"#msg-{answer.pk}-text", start, f"#msg-{answer.pk}-text", start + 12])
    keep = message.locator(".msg-actions > .keep-form button")
    expect(keep).to_have_accessible_name("Keep selection “die Brötchen” in your deck")
    keep.click()
    expect(message.locator(".kept-words")).to_have_text("Kept „die Brötchen“ ✓")
    expect(message.get_by_role("alert")).to_have_count(0)
    page.evaluate("getSelection().removeAllRanges()")  # nothing selected: its phrases again
    expect(keep).to_have_accessible_name("Keep a phrase")

    # A refusal of a selection then Keep a phrase: the refusal and what was kept before go
    # (they stayed above the list the refusal sent the learner to: a newcomer's walk).
    start = text.index("I'd")
    page.evaluate(SELECT, [f"#msg-{answer.pk}-text", start, f"#msg-{answer.pk}-text", start + 13])
    expect(keep).not_to_have_attribute("aria-expanded", re.compile("."))  # it keeps now
    keep.click()
    expect(message.get_by_role("alert")).to_contain_text("Only the German the helper quotes")
    page.evaluate("getSelection().removeAllRanges()")
    expect(keep).to_have_attribute("aria-expanded", "true")  # the list still open from above
    keep.click()
    expect(keep).to_have_attribute("aria-expanded", "false")
    expect(message.get_by_role("alert")).to_have_count(0)
    expect(message.locator(".kept-words")).to_have_count(0)
    keep.click()
    expect(keep).to_have_attribute("aria-expanded", "true")
    assert [p for p in problems if "400" not in p] == []  # the browser logs the refusal


def test_a_helper_answers_phrases_kept_anywhere_say_so(daphne_server, browser):
    """A phrase the deck held was offered still, and pressing it answered "is in your deck"
    (the last note's left item): drawn kept as the page loads, and once kept in any way."""
    from playwright.sync_api import expect

    from tests.conftest import add_message

    user = User.objects.create_user("lore@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="bakery"))
    text = "Say „ein Brot“ (a loaf) or „zwei Brötchen“ (two rolls)."
    answer = add_message(session, "helper", "helper", text)
    page, problems = _open_chat(daphne_server, browser, user, session)
    message = page.locator(f"#msg-{answer.pk}")

    # The second phrase kept from its words, selected in the answer: the list hears of it.
    start = text.index("zwei")
    page.evaluate(SELECT, [f"#msg-{answer.pk}-text", start, f"#msg-{answer.pk}-text", start + 13])
    message.get_by_role("button", name="Keep selection").click()
    expect(message.locator(".kept-words")).to_have_text("Kept „zwei Brötchen“ ✓")
    phrases = message.locator(".keep-phrases")
    expect(phrases.locator(".kept")).to_have_text("„zwei Brötchen“ in your deck ✓")

    # The first one kept in another tab: here too, and with nothing selected, the list opens
    # on what is in the deck.
    other, _ = _open_chat(daphne_server, browser, user, session)
    other.evaluate("getSelection().removeAllRanges()")
    other_message = other.locator(f"#msg-{answer.pk}")
    other_message.get_by_role("button", name="Keep a phrase").click()
    other_message.get_by_role("button", name="Keep „ein Brot“ (a loaf)").click()
    expect(phrases.locator(".kept")).to_have_count(2)
    expect(phrases.get_by_role("button")).to_have_count(0)
    page.evaluate("getSelection().removeAllRanges()")
    message.get_by_role("button", name="Keep a phrase").click()
    expect(phrases).to_be_visible()
    expect(phrases.locator(".kept").first).to_be_focused()
    expect(phrases.locator(".kept").first).to_have_text("„ein Brot“ in your deck ✓")
    page.reload()
    expect(page.locator("#chat[data-synced]")).to_have_count(1)
    expect(message.locator(".keep-phrases .kept")).to_have_count(2)
    assert problems == []


LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichen"  # 58 letters


@pytest.mark.parametrize("width", [390, 1280])
def test_a_long_word_wraps_rather_than_widening_the_page(daphne_server, browser, width):
    """A long word in a report, a scene's title or its description made the page scroll
    sideways (the attacker's replay: at 390 px wide, the picker was 1,453 px)."""
    from playwright.sync_api import expect

    from lib.rls import acting_as_staff

    user = User.objects.create_user("jana@example.com", None)
    with acting_as_staff():
        Scenario.objects.filter(code="bakery").update(
            title=LONG_WORD[:40], description=f"Ein {LONG_WORD}, bitte.", character_name=LONG_WORD
        )
    session = _completed_with_report(user, [(LONG_WORD, f"a {LONG_WORD} badge")])
    page, problems = _open_chat(daphne_server, browser, user, session)
    page.set_viewport_size({"width": width, "height": 800})
    wider = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    expect(page.locator(".report-words")).to_contain_text(LONG_WORD)
    for path in (f"/sessions/{session.pk}/", "/", "/history/", "/deck/"):
        page.goto(f"{daphne_server}{path}")
        assert page.evaluate(wider) == 0, path
    assert problems == []


def test_a_cards_meaning_is_written_on_the_deck_page(daphne_server, browser):
    """A card kept with no meaning, offline, kept none for ever: review said to ask the helper,
    and no page offered to write it (a newcomer's walk). Review leads to the deck's page,
    where it is written, from the keyboard, on a phone's width."""
    from playwright.sync_api import expect

    from learning import deck

    user = User.objects.create_user("jana@example.com", None)
    card = deck.keep(user.pk, "H\u00e4hnchen", example="Mit H\u00e4hnchen, bitte.")
    page, problems = _open(daphne_server, browser, user, "/review/", {"width": 390, "height": 844})
    page.get_by_text("Show the meaning").click()
    page.get_by_role("link", name="your deck's page").click()
    box = page.get_by_label("Its meaning of \u201eH\u00e4hnchen\u201c")
    expect(box).to_be_in_viewport()
    expect(box).to_be_focused()  # it stayed on the page (a newcomer's recheck)
    box.fill("chicken")
    box.press("Enter")
    shown = page.locator(f"#card-{card.pk}")
    expect(shown).to_be_focused()
    expect(shown).to_contain_text("H\u00e4hnchen \u2014 chicken")
    # Said beside the card, in sight (at the page's top it was not: a newcomer's walk).
    expect(shown.get_by_role("status")).to_have_text("Meaning saved \u2713")
    expect(shown.get_by_role("status")).to_be_in_viewport()
    expect(page.get_by_label(re.compile("^Its meaning"))).to_have_count(0)
    wider = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(wider) == 0
    # And corrected (given once, a typo in it meant removing the card: the same walk).
    shown.get_by_role("link", name="Change the meaning of \u201eH\u00e4hnchen\u201c").click()
    box = page.get_by_label("Its new meaning of \u201eH\u00e4hnchen\u201c")
    expect(box).to_be_focused()
    expect(box).to_have_value("chicken")
    box.fill("chicken (the meat)")
    box.press("Enter")
    expect(shown).to_contain_text("H\u00e4hnchen \u2014 chicken (the meat)")
    expect(shown.get_by_role("status")).to_have_text("Meaning saved \u2713")

    page.goto(f"{daphne_server}/review/")
    page.get_by_text("Show the meaning").click()
    expect(page.locator(".review-back")).to_contain_text("chicken")
    assert problems == []
    page.context.close()


def test_a_transcript_keeps_a_helper_answers_german_as_the_chat_page_does(daphne_server, browser):
    """A helper answer on the transcript had no Keep: its German could be kept only while the
    scene was on (a newcomer's walk)."""
    from playwright.sync_api import expect

    from learning import deck
    from scenarios import lifecycle
    from tests.conftest import add_message

    user = User.objects.create_user("kira@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="kebab"))
    answer = add_message(
        session,
        "helper",
        "helper",
        'To leave something out: "Ohne Zwiebeln, bitte." (Without onions, please.) And a sauce:'
        ' "Kr\u00e4uterso\u00dfe" (herb sauce) or "Knoblauchso\u00dfe".',
    )
    lifecycle.complete_session(user.pk, session.pk, main_messages=16, ended_by="model")
    deck.keep(user.pk, "Kr\u00e4uterso\u00dfe", "herb sauce")
    page, problems = _open(daphne_server, browser, user, f"/history/{session.pk}/")
    message = page.locator(f"#msg-{answer.pk}")
    message.get_by_role("button", name="Keep a phrase").focus()
    page.keyboard.press("Enter")  # nothing selected: its phrases, those in the deck said so
    phrases = message.get_by_role("group", name=re.compile("^Keep one of its phrases"))
    expect(phrases.get_by_role("button", name=re.compile("^Keep \u201eOhne"))).to_be_focused()
    expect(phrases.locator(".kept")).to_have_text(
        "\u201eKr\u00e4uterso\u00dfe\u201c in your deck \u2713"
    )
    # Kept by selection, its phrase in the open list says so (it was offered still: the
    # transcript has no socket to tell it; the attacker's recheck).
    text = f"#msg-{answer.pk}-text"
    page.evaluate(SELECT, [text, 25, text, 46])  # "Ohne Zwiebeln, bitte."
    message.locator(".msg-actions > .keep-form button").click()
    kept = "Kept \u201eOhne Zwiebeln, bitte.\u201c \u2713"
    expect(message.locator(".kept-words")).to_have_text(kept)
    expect(phrases.get_by_role("button")).to_have_count(1)  # "Knoblauchso\u00dfe" only
    expect(phrases.locator(".kept").first).to_have_text(
        "\u201eOhne Zwiebeln, bitte.\u201c in your deck \u2713"
    )

    # Its English, selected, is refused with the reason.
    page.evaluate(SELECT, [text, 3, text, 8])  # "leave"
    message.locator(".msg-actions > .keep-form button").click()
    expect(message.get_by_role("alert")).to_contain_text("Only the German the helper quotes")
    phrases.get_by_role("button", name=re.compile("^Keep \u201eKnoblauch")).click()
    expect(phrases.locator(".kept", has_text="Knoblauch")).to_have_text(
        "Kept \u201eKnoblauchso\u00dfe\u201c \u2713"
    )
    cards = {card.german: card for card in deck.all_cards(user.pk)}
    assert (cards["Ohne Zwiebeln, bitte."].gloss, cards["Ohne Zwiebeln, bitte."].example) == (
        "Without onions, please.",
        'To leave something out: "Ohne Zwiebeln, bitte." (Without onions, please.)',
    )
    # With its scene, as on the chat page (the transcript's phrases kept none: a newcomer's
    # recheck).
    assert cards["Knoblauchso\u00dfe"].scenario_id == session.scenario_id
    assert len(cards) == 3
    assert [p for p in problems if "400" not in p] == []  # the browser logs the refusal
    page.context.close()


def test_a_refusal_after_a_keep_stands_on_a_line_of_its_own(daphne_server, browser):
    """After "Kept „…“ ✓" a refusal ran on in its line, and read as the end of the note, its
    ✓ wrapped onto it (a newcomer's walk)."""
    from playwright.sync_api import expect

    from tests.conftest import add_message

    user = User.objects.create_user("ida@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="kebab"))
    answer = add_message(session, "helper", "helper", 'Say "Ohne Zwiebeln" to leave them out.')
    page, problems = _open_chat(daphne_server, browser, user, session)
    message = page.locator(f"#msg-{answer.pk}")
    text = f"#msg-{answer.pk}-text"
    page.evaluate(SELECT, [text, 5, text, 18])  # "Ohne Zwiebeln"
    message.get_by_role("button", name="Keep selection").click()
    kept = message.locator(".kept-words")
    expect(kept).to_have_text("Kept \u201eOhne Zwiebeln\u201c \u2713")
    # The ✓ is bound to the phrase: a long one wrapped it onto a line of its own (the last note).
    assert kept.text_content().endswith("\u201c\u00a0\u2713")
    page.evaluate(SELECT, [text, 23, text, 28])  # "leave"
    message.get_by_role("button", name="Keep selection").click()
    refused = message.get_by_role("alert")
    expect(refused).to_contain_text("Only the German the helper quotes")
    assert refused.bounding_box()["y"] >= kept.bounding_box()["y"] + kept.bounding_box()["height"]
    assert [p for p in problems if "400" not in p] == []  # the browser logs the refusal


def test_a_noun_kept_with_its_article_is_marked_without_it(daphne_server, browser):
    """A report's "das Hähnchen" and a line's "Hähnchen" are one card: kept from the report,
    the line's word says it is in the deck (it was offered still: a newcomer's walk)."""
    from playwright.sync_api import expect

    user = User.objects.create_user("lena@example.com", None)
    line = "Mit H\u00e4hnchen oder Kalb?"
    session = _completed_with_report(user, [("das H\u00e4hnchen", "chicken")], lines=(line,))
    page, problems = _open(daphne_server, browser, user, f"/history/{session.pk}/")
    message = page.locator("#main-messages .msg", has_text=line)
    message.get_by_role("button", name=re.compile("^Keep words of ")).click()
    words = message.get_by_role("group", name=re.compile("^Its words"))
    expect(words.get_by_role("button", name="Keep \u201eH\u00e4hnchen\u201c")).to_be_visible()
    page.locator(".report-words").get_by_role("button", name=re.compile("^Keep")).click()
    expect(page.locator(".report-words .kept")).to_have_count(1)
    expect(words.locator(".kept")).to_have_text("\u201eH\u00e4hnchen\u201c in your deck \u2713")
    assert words.locator(".kept").text_content().endswith("deck\u00a0\u2713")
    assert problems == []
    page.context.close()


def test_two_nouns_or_an_article_and_a_verb_stay_apart_on_the_page(daphne_server, browser):
    """The page folded any article away: keeping „der See“ drew „die See“ as in the deck, and
    „Das stimmt“ drew „stimmt“ so, which the server offered again after a reload (the
    attacker's recheck)."""
    from playwright.sync_api import expect

    from tests.conftest import add_message

    user = User.objects.create_user("mira@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="kebab"))
    answer = add_message(
        session,
        "helper",
        "helper",
        'A lake is "der See" (lake), the sea "die See" (sea). "Das stimmt" (that\'s right)'
        ' says "stimmt" (is right) too.',
    )
    page, problems = _open_chat(daphne_server, browser, user, session)
    message = page.locator(f"#msg-{answer.pk}")
    message.get_by_role("button", name="Keep a phrase").click()
    phrases = message.get_by_role("group", name=re.compile("^Keep one of its phrases"))
    phrases.get_by_role("button", name="Keep \u201eder See\u201c").click()
    phrases.get_by_role("button", name="Keep \u201eDas stimmt\u201c").click()
    expect(phrases.locator(".kept")).to_have_count(2)
    expect(phrases.get_by_role("button", name="Keep \u201edie See\u201c")).to_be_visible()
    expect(phrases.get_by_role("button", name="Keep \u201estimmt\u201c")).to_be_visible()
    page.reload()
    page.wait_for_selector("#chat[data-synced]")
    message.get_by_role("button", name="Keep a phrase").click()
    expect(phrases.locator(".kept")).to_have_count(2)
    expect(phrases.get_by_role("button")).to_have_count(2)  # as the server offers them
    assert problems == []
    page.context.close()


def test_report_words_kept_on_the_transcript_mark_its_lines_as_the_deck_holds_them(
    daphne_server, browser
):
    """A report word as the model wrote it ("Wie geht\u2019s?") left its line unmarked until a
    reload, and "Keep all" marked its first word's copies only (the attacker's second
    recheck): the transcript has no socket to tell it."""
    from playwright.sync_api import expect

    user = User.objects.create_user("nina@example.com", None)
    words = [
        ("Wie geht\u2019s?", "How are you?"),
        ("das H\u00e4hnchen", "chicken"),
        ("B\u00e4cker", ""),
    ]
    lines = ("Wie geht\u2019s?", "H\u00e4hnchen", "B\u00e4cker")
    session = _completed_with_report(user, words, lines=lines)
    page, problems = _open(daphne_server, browser, user, f"/history/{session.pk}/")
    report = page.locator(".report-words")
    expect(report).to_contain_text("Wie geht's?")  # as the deck holds it
    report.get_by_role("button", name=re.compile("^Keep .Wie geht")).click()
    expect(report.locator(".kept")).to_have_count(1)
    line = page.locator("#main-messages .msg", has_text="Wie geht")
    expect(line.locator(".kept")).to_have_text("In your deck \u2713")
    page.get_by_role("button", name="Keep the other 2 words").click()
    for word in ("H\u00e4hnchen", "B\u00e4cker"):
        kept = page.locator("#main-messages .msg", has_text=word).locator(".kept")
        expect(kept).to_have_text("In your deck \u2713")
    assert problems == []
    page.context.close()


def test_the_page_judges_a_nouns_capital_as_the_server_does(daphne_server, browser):
    """A capital beyond the first 65,536 letters (two units of a string) made no noun on the
    page, which offered „\U0001f130pfel“ still beside „der \U0001f130pfel“ kept; the server
    holds them as one card (the attacker's second recheck)."""
    from playwright.sync_api import expect

    from tests.conftest import add_message

    user = User.objects.create_user("olli@example.com", None)
    session = conversations.start(user.pk, Scenario.objects.get(code="kebab"))
    answer = add_message(
        session, "helper", "helper", 'Say "der \U0001f130pfel" (apple), or "\U0001f130pfel".'
    )
    page, problems = _open_chat(daphne_server, browser, user, session)
    message = page.locator(f"#msg-{answer.pk}")
    message.get_by_role("button", name="Keep a phrase").click()
    phrases = message.get_by_role("group", name=re.compile("^Keep one of its phrases"))
    phrases.get_by_role("button", name=re.compile("^Keep .der")).click()
    expect(phrases.locator(".kept")).to_have_count(2)
    assert problems == []
    page.context.close()


def test_a_word_opening_its_sentence_is_not_marked_as_the_noun_kept(daphne_server, browser):
    """The server holds "Morgen" of "Morgen habe ich frei." (tomorrow) apart from "der Morgen";
    a line's open list marked it as kept once "der Morgen" was, until a reload (the last
    recheck's rule, not yet the page's)."""
    from playwright.sync_api import expect

    user = User.objects.create_user("pia@example.com", None)
    lines = ("Morgen habe ich frei.", "Guten Morgen!")
    session = _completed_with_report(user, [("der Morgen", "the morning")], lines=lines)
    page, problems = _open(daphne_server, browser, user, f"/history/{session.pk}/")
    lists = {}
    for line in lines:
        message = page.locator("#main-messages .msg", has_text=line)
        message.get_by_role("button", name=re.compile("^Keep words of ")).click()
        lists[line] = message.get_by_role("group", name=re.compile("^Its words"))
        expect(lists[line].get_by_role("button", name="Keep \u201eMorgen\u201c")).to_be_visible()
    page.locator(".report-words").get_by_role("button", name=re.compile("^Keep")).click()
    expect(lists["Guten Morgen!"].locator(".kept")).to_have_text(
        "\u201eMorgen\u201c in your deck \u2713"
    )
    expect(
        lists["Morgen habe ich frei."].get_by_role("button", name="Keep \u201eMorgen\u201c")
    ).to_be_visible()
    assert problems == []
    page.context.close()


def test_a_phones_menu_is_one_row_and_the_transcripts_headings_go_in_order(daphne_server, browser):
    """At 390 px, "Log out" sat alone on a third row of the header; the transcript went from
    its h1 to the goals' h3, then the report's h2, which had an empty band above it (a
    newcomer's walk)."""
    user = User.objects.create_user("nele@example.com", None)
    session = _completed_with_report(user, [("das Brötchen", "bread roll")])
    phone = {"width": 390, "height": 844}
    page, problems = _open(daphne_server, browser, user, "/deck/", phone)
    for path in ("/deck/", "/history/", "/review/", "/account/", f"/sessions/{session.pk}/"):
        page.goto(f"{daphne_server}{path}")
        middles = page.evaluate(  # of each item of the menu: one row
            "[...document.querySelectorAll('.nav-list > li')].map((item) => {"
            "  const box = item.getBoundingClientRect();"
            "  return Math.round(box.top + box.height / 2);"
            "})"
        )
        assert len(middles) >= 5 and max(middles) - min(middles) <= 2, (path, middles)
    levels = page.evaluate(
        "[...document.querySelectorAll('main h1, main h2, main h3')].map((h) => h.tagName)"
    )
    assert levels[:3] == ["H1", "H2", "H2"], levels  # the scene, its goals, its report
    report, heading = page.locator("#report"), page.locator("#report-title")
    gap = heading.bounding_box()["y"] - report.bounding_box()["y"]
    assert gap < 24, gap  # the box's padding and a little: it was 40 px
    assert problems == []


@pytest.mark.parametrize(("width", "rows"), [(390, [2, 2]), (560, [2, 2]), (600, [4]), (1280, [4])])
def test_the_answers_stand_in_even_rows(daphne_server, browser, width, rows):
    """On a phone Again, Hard and Good stood in a row and Easy alone below (a newcomer's
    walk): two and two there, four in a row where they fit."""
    from learning import deck

    user = User.objects.create_user("jana@example.com", None)
    deck.keep(user.pk, "die Kasse", "till")
    page, problems = _open(
        daphne_server, browser, user, "/review/", {"width": width, "height": 844}
    )
    page.get_by_text("Show the meaning").click()
    tops = [
        box["y"]
        for box in page.locator(".review-answers button").evaluate_all(
            "buttons => buttons.map(button => button.getBoundingClientRect())"
        )
    ]
    assert [tops.count(top) for top in dict.fromkeys(tops)] == rows
    wider = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(wider) == 0 and problems == []
    page.context.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_review_answers_from_the_keyboard_with_the_keys_1_to_4(daphne_server, browser):
    """After "Show the meaning", each answer was one to four Tabs away, and no key answered
    (a newcomer's walk): 1 to 4 answer, as in Anki, once the meaning is shown."""
    from playwright.sync_api import expect

    from learning import deck

    user = User.objects.create_user("jana@example.com", None)
    first = deck.keep(user.pk, "das Brötchen", "the bread roll")
    second = deck.keep(user.pk, "die Tüte", "the bag")
    page, problems = _open(daphne_server, browser, user, "/review/")
    page.keyboard.press("3")  # the meaning not shown yet: no answer
    page.keyboard.press("Enter")  # "Show the meaning", which has the focus
    hint = "How well did you know it? Or press a key: 1 Again, 2 Hard, 3 Good, 4 Easy."
    expect(page.get_by_text(hint)).to_be_visible()
    german = page.locator("#review-german")
    shown = german.inner_text()
    for key in ('"', "\\", "5"):  # no answer, and no script error (the attacker's recheck)
        page.keyboard.press(key)
    expect(page.get_by_role("button", name=re.compile("^Good"))).to_have_attribute(
        "aria-keyshortcuts", "3"
    )
    page.keyboard.press("3")
    expect(german).not_to_have_text(shown)
    page.keyboard.press("Enter")
    page.keyboard.press("1")
    expect(page.get_by_text("Nothing is due right now.")).to_be_visible()
    reviewed = {card.german: card.reviews for card in deck.all_cards(user.pk)}
    assert reviewed == {first.german: 1, second.german: 1}
    assert problems == []
    page.context.close()


def test_every_cards_actions_stand_below_its_word(daphne_server, browser):
    """Beside a card with no example, "Change the meaning" and "Remove" stood on the word's
    line; below the others (a newcomer's walk)."""
    from learning import deck

    user = User.objects.create_user("kira@example.com", None)
    deck.keep(user.pk, "seit", "since")  # no example
    deck.keep(user.pk, "Getränke", "drinks", example="Die Getränke stehen in der Küche.")
    deck.keep(user.pk, "in der Küche")  # no meaning: its box
    page, problems = _open(daphne_server, browser, user, "/deck/")
    cards = page.locator(".deck-card")
    assert cards.count() == 3
    for index in range(3):
        card = cards.nth(index)
        word = card.locator(".deck-german").bounding_box()
        remove = card.get_by_role("button", name=re.compile("^Remove")).bounding_box()
        assert remove["y"] >= word["y"] + word["height"], card.inner_text()
    assert problems == []
    page.context.close()


def test_the_account_pages_cards_have_one_label_and_no_gap_above_their_headings(
    daphne_server, browser
):
    """ "Your level" stood over a legend "Your German", read as two labels, and the headed
    cards had their heading's margin above it as well as their padding (a newcomer's walk)."""
    from playwright.sync_api import expect

    user = User.objects.create_user("lina@example.com", None)
    page, problems = _open(daphne_server, browser, user, "/account/")
    for name in ("Your level", "Delete your account"):
        heading = page.get_by_role("heading", name=name)
        card = page.locator("section.card", has=heading)
        padding = card.evaluate("card => parseFloat(getComputedStyle(card).paddingTop) + 1")
        gap = heading.bounding_box()["y"] - card.bounding_box()["y"]
        assert gap <= padding + 0.5, (name, gap, padding)
    assert page.locator("legend", has_text="Your German").bounding_box()["height"] <= 1  # unseen
    # The facts' values stand in one column ("Conversations completed" pushed its own out of
    # line), and on a phone each under its label (a newcomer's recheck).
    values = [box.bounding_box() for box in page.locator(".facts dd").all()]
    assert len({round(value["x"]) for value in values}) == 1
    page.set_viewport_size({"width": 390, "height": 844})
    labels, values = page.locator(".facts dt").all(), page.locator(".facts dd").all()
    for label, value in zip(labels, values, strict=True):
        assert (
            value.bounding_box()["y"] >= label.bounding_box()["y"] + label.bounding_box()["height"]
        )
    expect(page.get_by_role("group", name="Your German")).to_be_visible()  # still its name
    assert problems == []
    page.context.close()
