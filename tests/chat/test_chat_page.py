"""The chat page: the learner's own session only, rendered from the database."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from accounts.logins import page_owner
from chat import conversations, messages
from chat.goals import record_reached
from eventlog.models import Log
from lib.rls import acting_as_learner, acting_as_staff
from tests.conftest import add_message, complete


def test_the_chat_page_shows_both_chats_and_the_socket(client, alice, marketplace):
    session = conversations.start(alice.pk, marketplace)
    client.force_login(alice)
    response = client.get(f"/sessions/{session.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert escape(marketplace.initial_message_main) in body
    assert escape(marketplace.initial_message_helper) in body
    assert f'ws-connect="/ws/sessions/{session.pk}/?for={page_owner(alice)}"' in body
    assert 'data-max-length="1000"' in body  # the page's limit, from settings
    assert "<script>" not in body  # no inline scripts: CSP-ready


def test_coming_back_restores_the_session(client, alice, party):
    session = conversations.start(alice.pk, party)
    client.force_login(alice)
    body = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "Lena" in body and "German" in body and "Helper" in body
    with acting_as_staff():
        assert Log.objects.filter(event_type="session_restored", session_id=session.pk).exists()


def test_messages_show_in_their_pane_in_order(client, alice, party):
    session = conversations.start(alice.pk, party)
    add_message(session, "user", "main", "Ich heiße Alice.")
    add_message(session, "user", "helper", "How do I say nice to meet you?")
    client.force_login(alice)
    body = client.get(f"/sessions/{session.pk}/").content.decode()
    main_pane, helper_pane = body.split('id="helper-messages"')
    assert main_pane.index("schön, dass du da bist") < main_pane.index("Ich heiße Alice.")
    assert "nice to meet you?" in helper_pane and "Ich heiße" not in helper_pane


def test_offline_mode_is_announced(client, alice, marketplace, settings):
    """And the length it gives a scene says a script ends it: a staff's four-line script
    ended at message 9 under "about 15 to 25" (a newcomer's walk)."""
    settings.ANTHROPIC_API_KEY = ""
    session = conversations.start(alice.pk, marketplace)
    client.force_login(alice)
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "Offline mode" in page
    assert "the scene ends when its scripted lines run out or every goal is reached" in page
    settings.ANTHROPIC_API_KEY = "sk-test"
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "Offline mode" not in page and "scripted lines run out" not in page


def test_another_learners_session_is_404(client, alice, bob, party):
    session = conversations.start(alice.pk, party)
    client.force_login(bob)
    response = client.get(f"/sessions/{session.pk}/")
    assert response.status_code == 404
    assert "Lena" not in response.content.decode()
    assert client.post(f"/sessions/{session.pk}/abandon/").status_code == 404


def test_a_malformed_session_id_is_404(client, alice):
    client.force_login(alice)
    assert client.get("/sessions/not-a-uuid/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, alice, marketplace):
    session = conversations.start(alice.pk, marketplace)
    response = client.get(f"/sessions/{session.pk}/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_completed_scene_with_a_goal_reached_is_cheered(client, alice, marketplace):
    session = conversations.start(alice.pk, marketplace)
    said = add_message(session, "user", "main", "Guten Tag!")
    with acting_as_staff():
        first = marketplace.goals.order_by("position").first()
    with acting_as_learner(alice.pk):
        assert record_reached(session.pk, [first.pk], said.pk)
    complete(session)
    client.force_login(alice)
    body = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "<h2>Geschafft! Scene complete 🎉</h2>" in body
    assert "with 3 goals not reached" in body


def test_a_completed_session_keeps_its_helper_open(client, alice, marketplace):
    session = complete(conversations.start(alice.pk, marketplace))
    client.force_login(alice)
    body = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "<h2>Scene complete</h2>" in body and f'href="/history/{session.pk}/"' in body
    assert 'id="main-input"' not in body and "The role-play is over" in body
    assert 'id="helper-input"' in body  # questions about the scene are still welcome
    assert (
        "Scene complete · 1 message<" in body and 'max="27" value="27"' in body
    )  # full (offline here)


def test_an_unanswered_message_offers_to_try_again_after_a_reload(client, alice, marketplace):
    session = conversations.start(alice.pk, marketplace)
    add_message(session, "user", "main", "Hallo?")  # its reply failed, or the server restarted
    client.force_login(alice)
    body = client.get(f"/sessions/{session.pk}/").content.decode()
    main_pane = body.split('id="pane-helper"')[0]
    assert 'data-slot="retry"' in main_pane and "Try again" in main_pane
    assert "Your message is saved" in main_pane


def test_a_message_posted_before_the_scripts_ran_comes_back_in_its_box(
    client, alice, bob, marketplace
):
    """Send pressed before the page's scripts ran is the browser's own POST to the page: the
    message is not sent, and it is not lost (it was: a 405, the text gone with the page)."""
    session = conversations.start(alice.pk, marketplace)
    client.force_login(alice)
    address = f"/sessions/{session.pk}/"
    client.get(address)
    typed = "Ich h\u00e4tte gern <b>zwei</b> Br\u00f6tchen,\nbitte.\u202e"  # an override, pasted
    client_csrf = Client(enforce_csrf_checks=True)
    client_csrf.force_login(alice)
    page = client_csrf.get(address).content.decode()
    forms = re.findall(r'<form method="post" class="compose".*?</form>', page, re.S)
    assert len(forms) == 2 and all("csrfmiddlewaretoken" in form for form in forms)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', forms[0]).group(1)
    response = client_csrf.post(
        address, {"csrfmiddlewaretoken": token, "chat": "helper", "message": typed}
    )
    assert response.status_code == 200
    body = response.content.decode()
    main_pane, helper_pane = body.split('id="pane-helper"')
    box = re.search(r'<textarea id="helper-input"[^>]*>(.*?)</textarea>', helper_pane, re.S)
    assert unescape(box.group(1)) == "\n" + typed[:-1] and "autofocus" in box.group(0)
    assert "Not sent yet" in helper_pane and "Not sent" not in main_pane
    assert re.search(r'<textarea id="main-input"[^>]*>\n</textarea>', main_pane)
    with acting_as_learner(alice.pk):  # (row-level security: as the learner)
        assert len(messages.of_session(session.pk)) == 2  # the two openings: nothing was sent

    # "Try again" pressed so comes back to the page, which offers it again.
    response = client.post(address, {"action": "retry", "chat": "main"})
    assert response.status_code == 302 and response["Location"] == address
    # Nothing typed: the page as it is.
    assert "Not sent" not in client.post(address, {"chat": "main", "message": " "}).content.decode()
    # The role-play ended meanwhile: what was written is in the note.
    complete(session)
    body = client.post(address, {"chat": "main", "message": typed}).content.decode()
    assert "Not sent: the role-play is over. What you wrote:" in body
    assert escape(typed[:-1]) in body and "\u202e" not in body
    # Nor do control characters, which the socket refuses, come back raw in the page.
    body = client.post(address, {"chat": "helper", "message": "a\x00b\x1bc"}).content.decode()
    assert ">\nabc</textarea>" in body and "\x00" not in body and "\x1b" not in body
    client.force_login(bob)
    assert client.post(address, {"chat": "main", "message": typed}).status_code == 404


def test_the_page_renders_with_a_fixed_number_of_queries(
    client, alice, marketplace, django_assert_num_queries
):
    session = conversations.start(alice.pk, marketplace)
    for index in range(20):
        add_message(session, "user" if index % 2 else "scenario", "main", f"Satz {index}")
    client.force_login(alice)
    client.get(f"/sessions/{session.pk}/")  # the first visit logs a restore, as the next do
    # Two of them: which lines the deck holds, and (the chat ends with the learner's message)
    # why its reply did not come.
    with django_assert_num_queries(19):
        assert client.get(f"/sessions/{session.pk}/").status_code == 200


def test_a_long_helper_chat_shows_its_newest_messages(client, alice, marketplace):
    """The page and its socket's sync show a chat's newest 100 messages: a sync over 1 MiB could
    not be sent, and such a session could not be opened (the recheck replay)."""
    session = conversations.start(alice.pk, marketplace)
    for number in range(120):
        add_message(session, "user" if number % 2 == 0 else "helper", "helper", f"Frage {number}")
    client.force_login(alice)
    body = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "21 earlier messages" in body  # 120 and the helper's opening line
    assert "Frage 19<" not in body and "Frage 20<" in body and "Frage 119<" in body


def _show_earlier_url(body: str) -> str | None:
    found = re.search(r'class="earlier-messages".*?hx-get="([^"]+)"', body, re.S)
    return unescape(found.group(1)) if found else None


def test_a_long_chats_earlier_messages_are_shown_a_hundred_at_a_time(client, alice, marketplace):
    """An active session's earlier messages were in no page until the scene was complete."""
    session = conversations.start(alice.pk, marketplace)
    for number in range(250):
        add_message(session, "user" if number % 2 == 0 else "helper", "helper", f"Frage {number}")
    client.force_login(alice)
    body = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "Frage 149<" not in body and "Frage 150<" in body
    assert "151 earlier messages" in body  # the helper's opening line and Frage 0 to 149

    with CaptureQueriesContext(connection) as queries:
        earlier = client.get(_show_earlier_url(body))
    assert earlier.status_code == 200
    # One page, read by keyset: not the whole session (a chat of 5,000 took 120 ms a click).
    whole_session = messages.OF_SESSION.split("%s")
    assert not [
        q
        for q in queries
        if q["sql"].startswith(whole_session[0]) and q["sql"].endswith(whole_session[1])
    ]
    shown = earlier.content.decode()
    assert re.findall(r"Frage \d+<", shown) == [f"Frage {n}<" for n in range(50, 150)]
    assert "51 earlier messages" in shown

    oldest = client.get(_show_earlier_url(shown)).content.decode()
    assert re.findall(r"Frage \d+<", oldest) == [f"Frage {n}<" for n in range(50)]
    assert escape(marketplace.initial_message_helper) in oldest
    assert _show_earlier_url(oldest) is None  # nothing before the opening line


def test_earlier_messages_are_the_learners_own_and_in_the_chat_asked(
    client, alice, bob, marketplace
):
    session = conversations.start(alice.pk, marketplace)
    line = add_message(session, "user", "main", "Ich nehme die Tomaten.")
    url = f"/sessions/{session.pk}/earlier/main/?before={line.pk}"
    client.force_login(bob)
    assert client.get(url).status_code == 404
    client.force_login(alice)
    shown = client.get(url).content.decode()
    assert escape(marketplace.initial_message_main) in shown and "Tomaten" not in shown
    assert client.get(url.replace("/main/", "/helper/")).status_code == 404  # not in that chat
    assert client.get(url.replace("/main/", "/other/")).status_code == 404
    refused = client.get(f"/sessions/{session.pk}/earlier/main/?before=nonsense")
    assert refused.status_code == 400
    assert "before" in refused.content.decode()


@pytest.mark.parametrize(
    ("main_count", "said"),
    [(13, ""), (14, "wrapping up"), (22, "wrapping up"), (23, "time to say goodbye")],
)
def test_the_progress_says_what_the_next_message_meets(main_count, said):
    """After the character's 23rd message the learner's next one gets the goodbye: the bar
    said "closing the scene" only as the goodbye streamed (a newcomer's recheck), and then,
    at the goodbye the learner may answer, as if the scene were over (the next recheck)."""
    from chat import frames

    assert frames.progress(main_count)["stage"] == said


@pytest.mark.parametrize(
    ("api_key", "hint", "short"),
    [
        ("test-key", "scenes end after about 15–25 messages (30 at most)", "ends at 15–25"),
        (
            "",
            "the scene ends when its scripted lines run out or every goal is reached, by",
            "ends by 27",
        ),
    ],
)
def test_the_progress_says_one_length(settings, api_key, hint, short):
    """Offline, the wide line said "30 at most" where the narrow one says "ends by 25": the
    script says its goodbye by the 25th message (the recheck), and the learner's answer and
    the character's last word follow (it said "ends by 25" of scenes of 27: the next)."""
    from chat import frames

    settings.ANTHROPIC_API_KEY = api_key
    said = frames.progress(3)
    assert said["hint"].startswith(hint) and said["short_hint"] == short
    assert ("30" in said["hint"]) == bool(api_key)
    assert said["cap"] == (30 if api_key else 27)  # the bar's length: "1 of 30" beside "by 27"


def test_a_role_play_lines_words_are_listed_to_keep_each(client, alice, bob, marketplace):
    """A word of a line could be kept only by selecting it, which a keyboard cannot (the last
    note's left item): "Keep words" lists them, each once, those in the deck marked."""
    from learning import deck

    session = conversations.start(alice.pk, marketplace)
    line = add_message(
        session, "scenario", "main", "Darf's sonst noch was sein? Was darf's, 50 E-Mails?"
    )
    answer = add_message(session, "helper", "helper", "Say „Danke“ (thanks).")
    deck.keep(alice.pk, "SONST")
    client.force_login(alice)
    address = f"/sessions/{session.pk}/lines/{line.pk}/words/"
    assert f'data-words="{address}"' in client.get(f"/sessions/{session.pk}/").content.decode()
    body = client.get(address).content.decode()
    offered = re.findall(r'name="german" value="([^"]*)"', body)
    assert [unescape(word) for word in offered] == ["Darf's", "noch", "was", "sein", "E-Mails"]
    assert '„<span lang="de">sonst</span>“ in your deck\u00a0✓' in body
    # Each word's Keep, and one for words of the line typed side by side.
    assert body.count(f'name="scenario" value="{marketplace.pk}"') == 6
    assert body.count(f'name="example" value="{escape(line.content)}"') == 6
    # Sent as the browser sends a form before htmx readies it, a Keep is a POST, as every
    # Keep of the page is: it was a GET, its line in the address (CI's replay).
    assert body.count("<form ") == body.count('<form method="post" action="/deck/keep/"') == 6
    assert body.count('name="csrfmiddlewaretoken"') == 6
    # And every form of the chat page, the ones the socket sends too (a message, "Try again"):
    # a press before the scripts ran put the learner's message in the address.
    from chat import frames

    page = client.get(f"/sessions/{session.pk}/").content.decode()
    page += frames.slot("main", frames.Slot("retry"))
    assert page.count("<form ") == page.count('<form method="post"') == 10

    # Only a line of the learner's own role-play: not a helper answer, another learner's
    # line, or one of another session.
    assert client.get(f"/sessions/{session.pk}/lines/{answer.pk}/words/").status_code == 404
    client.force_login(bob)
    assert client.get(address).status_code == 404
    bobs = conversations.start(bob.pk, marketplace)
    assert client.get(f"/sessions/{bobs.pk}/lines/{line.pk}/words/").status_code == 404
    assert client.post(address).status_code == 405
    client.logout()
    assert client.get(address).status_code == 302


def test_the_words_of_a_line_are_each_word_once_with_a_letter():
    from learning.deck import words_of

    assert words_of("Ja, ja! JA? 2 Äpfel, zwei\u200b Äpfel – 3,50 €.") == ["ja", "Äpfel", "zwei"]
    assert words_of("geht\u2019s? ...") == ["geht's"]
    assert words_of("!!! 42") == []
    # Marks stay with their letters, and an acute accent or a non-breaking hyphen inside a word
    # (the attacker's replay: fragments were offered).
    assert words_of("שָׁלוֹם n\u0308 geht\u00b4s E\u2011Mail") == [
        "שָׁלוֹם",
        "n\u0308",
        "geht\u00b4s",
        "E\u2011Mail",
    ]
    many = " ".join(f"Wort{chr(97 + n % 26)}{n}" for n in range(40))
    assert len(words_of(many)) == 40  # all of them: 20 left a long line's last words out


def test_the_page_and_a_sync_read_only_each_chats_newest_messages(
    client, alice, marketplace, monkeypatch
):
    """The page and every socket's sync read the whole session to show each chat's newest 100
    messages (2,000 took 23-96 ms to read: the last note's item)."""
    from chat.models import Message

    session = conversations.start(alice.pk, marketplace)
    for number in range(250):
        add_message(session, "user" if number % 2 == 0 else "helper", "helper", f"Frage {number}")
    built = []
    from_db = Message.from_db.__func__
    monkeypatch.setattr(
        Message, "from_db", classmethod(lambda cls, *args: built.append(1) or from_db(cls, *args))
    )
    client.force_login(alice)
    body = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "151 earlier messages" in body and "Frage 150<" in body
    assert len(built) <= conversations.ON_PAGE_AT_MOST + 2  # and the role-play's openings
    built.clear()
    shown = conversations.load(alice.pk, session.pk)
    assert len(built) <= conversations.ON_PAGE_AT_MOST + 2
    assert shown.before_page("helper") == 151 and shown.before_page("main") == 0
    assert [m.content for m in shown.on_page("helper")][:1] == ["Frage 150"]


def test_the_helper_tab_says_new_until_the_helper_is_asked(client, alice, marketplace):
    """A phone shows one chat: the helper's greeting, with the scene's first tip, sat unseen
    behind its tab (a newcomer's walk)."""
    session = conversations.start(alice.pk, marketplace)
    client.force_login(alice)
    unread = re.compile(r'Helper<span class="unread"( hidden)?> · new')

    def helper_tab_hidden() -> bool:
        page = client.get(f"/sessions/{session.pk}/").content.decode()
        return bool(unread.search(page).group(1))

    assert not helper_tab_hidden()
    add_message(session, "user", "helper", "What does Tomate mean?")
    assert helper_tab_hidden()
