"""The review deck: words kept from a report, a message or a helper answer; due ones reviewed
one at a time, scheduled by FSRS; exported as CSV and for Anki; a learner's own, behind
row-level security, gone with the account."""

import csv
import io
import re
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from html import unescape

import pytest
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.deletion import delete_account
from chat.models import SceneReport
from learning import deck
from learning.models import Card, RemovedCard
from lib.rls import acting_as_learner, acting_as_staff
from scenarios.models import Scenario
from tests.conftest import complete, failing_statements, raw_connection, start_session


def keep(client, **fields):
    return client.post("/deck/keep/", fields, HTTP_HX_REQUEST="true")


def test_a_word_is_kept_once_whatever_its_case(client, alice, marketplace):
    client.force_login(alice)
    first = keep(client, german="die Schale", gloss="punnet", scenario=str(marketplace.pk))
    again = keep(client, german="Die Schale", gloss="punnet")
    assert "Kept\u00a0✓" in first.content.decode()
    assert "In your deck\u00a0✓" in again.content.decode()
    [card] = deck.all_cards(alice.pk)
    assert (card.german, card.gloss, card.scenario_id) == ("die Schale", "punnet", marketplace.pk)


def test_a_word_kept_already_is_found_without_a_failing_insert(alice):
    """A failing statement may reach the server's log, with the learner's word in it."""
    deck.keep(alice.pk, "die Schale")
    with CaptureQueriesContext(connection) as queries, pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, "DIE SCHALE")
    assert not [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]


def test_keep_all_from_a_report(client, alice):
    client.force_login(alice)
    response = keep(client, german=["der Apfel", "die Tüte"], gloss=["apple", "bag"])
    assert "Kept 2 new" in response.content.decode()
    assert [c.german for c in deck.all_cards(alice.pk)] == ["der Apfel", "die Tüte"]


@pytest.mark.parametrize("kept_first", ["die Tüte", "der Apfel"])
def test_keep_all_keeps_the_new_words_beside_one_kept_before(client, alice, kept_first):
    """An AlreadyKept raised inside the request's transaction marked all of it for rollback:
    "Kept 2 new" with nothing kept, or a 500 when the kept word came first."""
    client.force_login(alice)
    keep(client, german=kept_first)
    response = keep(client, german=["der Apfel", "die Tüte", "die Kasse"])
    assert response.status_code == 200 and "Kept 2 new" in response.content.decode()
    assert sorted(c.german for c in deck.all_cards(alice.pk)) == [
        "der Apfel",
        "die Kasse",
        "die Tüte",
    ]


@pytest.mark.parametrize(
    ("german", "reason"),
    [
        ("", "not only spaces"),
        ("   ", "not only spaces"),  # it said "at most 300 characters" (a newcomer's walk)
        ("x" * 301, "at most 300 characters"),
    ],
)
def test_nothing_or_too_much_is_refused_with_the_reason(client, alice, german, reason):
    client.force_login(alice)
    response = keep(client, german=german)
    assert response.status_code == 400 and reason in response.content.decode()
    assert deck.all_cards(alice.pk) == []


def test_a_request_with_one_word_that_cannot_be_kept_keeps_none(client, alice):
    """It said why beside the button, yet had kept the words before it (found by the
    attacker's replay)."""
    client.force_login(alice)
    response = keep(client, german=["das Gutwort", "!!!"])
    assert response.status_code == 400 and b"letters or numbers" in response.content
    assert deck.all_cards(alice.pk) == []


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("brötchen bitte", "Brötchen, bitte"),
        ("  Zwei   Brötchen ", "Zwei Brötchen"),
        ("„und zwei Brezeln.“", "Und zwei Brezeln"),
        ("darf's", "darf's"),
        ("Broetchen, bitte", "Brötchen, bitte"),  # without a German keyboard
        ("brotchen", "Brötchen"),
    ],
)
def test_words_typed_under_a_line_are_kept_as_the_line_has_them(client, alice, typed, kept):
    """A keyboard cannot select words of a line; its "Keep words" listed them one by one, so
    a phrase of it could not be kept without a mouse (the last note's left item)."""
    client.force_login(alice)
    line = "Zwei Brötchen, bitte! Und zwei Brezeln. Was darf's sein?"
    response = keep(client, german=typed, example=line, in_line="1", name_it="1")
    assert response.status_code == 200, response.content
    assert f"Kept „{kept}“" in unescape(response.content.decode())
    [card] = deck.all_cards(alice.pk)
    assert card.german == kept and kept in card.example  # its sentence of the line


@pytest.mark.parametrize(
    ("typed", "line", "kept"),
    [
        ("zahlen Sie", "Zählen Sie das Geld, dann zahlen Sie bitte.", "zahlen Sie"),
        ("wurde es", "Ich würde es kaufen, aber dann wurde es teuer.", "wurde es"),
        ("Brotchen", "Brötchen und Brotchen", "Brotchen"),
        ("zaehlen", "Zählen Sie das Geld.", "Zählen"),
        ("Strasse", "Die Straße ist lang.", "Straße"),
        ("Masse", "Die Maße und die Masse.", "Masse"),  # the second recheck
        ("Maß", "Mass Maß", "Maß"),
        ("weg", "Der Weg ist weg.", "weg"),
        ("Weg", "der weg, der Weg", "Weg"),
    ],
)
def test_words_typed_are_kept_as_the_line_has_them_exactly_first(typed, line, kept):
    """The first words of the line that matched with umlauts folded won: "zahlen" (to pay)
    was kept as "Zählen" (to count) from a line holding both (the attacker's recheck)."""
    assert deck.words_in_line(typed, line) == kept


@pytest.mark.parametrize(
    ("typed", "line"),
    [("Pot", "Der Poet schreibt."), ("blau Auto", "Das blaue Auto."), ("neu", "Das neue.")],
)
def test_only_an_umlaut_of_the_line_may_be_typed_otherwise(typed, line):
    """Folding every "oe" and "ue" took "Pot" for "Poet" and "blau" for "blaue" (the recheck)."""
    assert deck.words_in_line(typed, line) is None


@pytest.mark.parametrize(
    ("typed", "line", "kept"),
    [
        ("bitte danke", "Ja, bitte. Danke!", None),
        ("bitte danke", "Ja, bitte. Danke! Nein bitte danke", "bitte danke"),
        ("Tag Herr", "Guten Tag, Herr Dr. Weber.", "Tag, Herr"),
        ("Dr Weber", "Guten Tag, Herr Dr. Weber.", "Dr. Weber"),  # an abbreviation ends none
        # A line break ends one, and a quotation's closing mark after the full stop (the
        # recheck: "Tag Was", "Brötchen - Brezel" and "Ja. Dann" with its closing mark were kept).
        ("Tag Was", "Guten Tag\nWas darf's sein?", None),
        ("Brötchen Brezel", "Wir haben:\n- Brötchen\n- Brezel", None),
        ("Ja Dann", "Er sagte ‚Ja.‘ Dann ging er.", None),
        ("Ja Dann", "Er sagte ›Ja.‹ Dann ging er.", None),
        ("Tag Herr", "Guten Tag, Herr\nDr. Weber.", "Tag, Herr"),
    ],
)
def test_words_typed_are_words_of_one_sentence(typed, line, kept):
    """Typed words were kept across a sentence's end: "bitte. Danke" (the last note's left
    item)."""
    assert deck.words_in_line(typed, line) == kept


@pytest.mark.parametrize("typed", ["Brötchen Zwei", "Brötchen bitten", "Brezel", "???"])
def test_words_typed_that_the_line_does_not_have_side_by_side_are_refused(client, alice, typed):
    client.force_login(alice)
    line = "Zwei Brötchen, bitte! Und zwei Brezeln."
    response = keep(client, german=typed, example=line, in_line="1", name_it="1")
    assert response.status_code == 400
    assert "not side by side in one sentence of this line" in response.content.decode()
    assert deck.all_cards(alice.pk) == []


def test_a_word_or_its_line_keeps_at_most_three_marks_on_a_letter(client, alice):
    """A pile of marks on a letter drew over what is above it on the deck and review pages, as
    a meaning's did (the last note's left item)."""
    client.force_login(alice)
    piled = "Bro" + "\u0308" * 200 + "tchen"
    response = keep(client, german=piled, example=f"Zwei {piled}, bitte.")
    assert response.status_code == 200
    [card] = deck.all_cards(alice.pk)
    assert card.german == "Brö" + "\u0308" * 3 + "tchen"  # ö composed, and three more
    assert card.example == f"Zwei {card.german}, bitte."
    again = keep(client, german="Bro" + "\u0308" * 50 + "tchen")
    assert "In your deck" in again.content.decode() and len(deck.all_cards(alice.pk)) == 1


def test_good_answers_space_a_card_further_and_further(alice):
    card = deck.keep(alice.pk, "das Wechselgeld", "change")
    due, intervals = card.due, []
    for _ in range(4):
        reviewed = deck.review(alice.pk, card.pk, "good", at=due).card
        intervals.append(reviewed.due - due)
        due = reviewed.due
    assert intervals == sorted(intervals) and intervals[-1] > timedelta(days=3)
    again = deck.review(alice.pk, card.pk, "again", at=due).card
    assert again.due - due < timedelta(hours=1)  # forgotten: soon again


def test_the_review_page_shows_the_due_card_and_takes_an_answer(client, alice):
    card = deck.keep(alice.pk, "die Kasse", "till", "Zahlen Sie bitte an der Kasse.")
    client.force_login(alice)
    page = client.get("/review/").content.decode()
    assert "die Kasse" in page and "Show the meaning" in page and "1 card due" in page
    answered = client.post(f"/review/{card.pk}/", {"rating": "good"}, follow=True)
    # The last one answered, the focus goes to what the page says now (a newcomer's recheck).
    assert 'tabindex="-1" autofocus>Nothing is due right now' in answered.content.decode()
    fresh = client.get("/review/").content.decode()
    assert "Nothing is due right now" in fresh and "autofocus>Nothing" not in fresh
    assert client.post(f"/review/{card.pk}/", {"rating": "perfect"}).status_code == 400
    # When to come back (the review ended without a word: a newcomer's walk), a date in the
    # learner's own time zone (it was UTC's: the attacker's recheck).
    assert re.search(r"The next card comes back in \d+ min\.", fresh)
    later = deck.keep(alice.pk, "die Waage", "scales")
    deck.review(alice.pk, later.pk, "easy")
    deck.review(alice.pk, card.pk, "easy", at=timezone.now() + timedelta(days=1))
    on = client.get("/review/").content.decode()
    assert re.search(
        r'comes back on <time data-local-time datetime="[^"]+">\d+ \w+ \(UTC\)</time>\.', on
    )


def test_the_review_names_each_cards_own_scene(client, alice, marketplace):
    """ "4 cards due · from 🥙 Kebab shop" named the first card's scene as if all four's (a
    newcomer's walk): the scene is the card's."""
    deck.keep(alice.pk, "die Kasse", "till", scenario_id=marketplace.pk)
    deck.keep(alice.pk, "die Party", "party")
    client.force_login(alice)
    page = client.get("/review/").content.decode()
    assert "2 cards due</p>" in page
    assert f'<p class="muted review-from">From {marketplace.emoji} {marketplace.title}</p>' in page


def test_the_picker_says_how_many_words_are_due(client, alice):
    deck.keep(alice.pk, "der Markt", "market")
    client.force_login(alice)
    assert "1 card to review" in client.get("/").content.decode()
    deck.keep(alice.pk, "die Tüte", "bag")
    assert "2 cards to review" in client.get("/").content.decode()


def test_another_learner_cannot_see_review_or_remove_a_card(client, alice, bob):
    card = deck.keep(alice.pk, "die Gurke", "cucumber")
    client.force_login(bob)
    assert client.post(f"/review/{card.pk}/", {"rating": "easy"}).status_code == 404
    assert client.post("/deck/remove/", {"card": str(card.pk)}).status_code == 404
    assert "Gurke" not in client.get("/deck/").content.decode()
    assert "Gurke" not in client.get("/deck/export.csv").content.decode()
    with acting_as_learner(bob.pk):
        assert not Card.objects.exists()


def test_answering_a_card_removed_in_another_tab_says_so_and_the_review_goes_on(client, alice):
    """It was "We couldn't find that page", a dead end (the attacker's replay)."""
    gone, next_one = deck.keep(alice.pk, "die Gurke", "cucumber"), deck.keep(alice.pk, "der Kohl")
    client.force_login(alice)
    deck.remove(alice.pk, gone.pk)
    response = client.post(f"/review/{gone.pk}/", {"rating": "good"})
    page = response.content.decode()
    assert response.status_code == 404
    assert "That card is no longer in your deck (removed in another tab?)" in page
    assert "der Kohl" in page and "Gurke" not in page
    assert [card.pk for card in deck.due_cards(alice.pk)] == [next_one.pk]


def test_a_noun_with_its_article_or_without_is_one_card(client, alice, marketplace):
    """ "Hähnchen" kept from a line and "das Hähnchen — chicken" from the report were two
    cards, and the report offered it as not in the deck (a newcomer's walk). The report's
    meaning goes to the card if it has none."""
    bare = deck.keep(alice.pk, "H\u00e4hnchen", example="Mit H\u00e4hnchen, bitte.")
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, "das H\u00e4hnchen", "chicken")
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, "DAS H\u00c4HNCHEN", "a chicken")  # its meaning given once
    deck.keep(alice.pk, "die Gurke", "cucumber")
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, "Gurke")
    assert {c.german: c.gloss for c in deck.all_cards(alice.pk)} == {
        "H\u00e4hnchen": "chicken",
        "die Gurke": "cucumber",
    }
    assert bare.pk in {c.pk for c in deck.all_cards(alice.pk)}
    asked = ["das H\u00e4hnchen", "Gurke", "die Gurken", "das Brot", "H\u00e4hnchen mit Reis"]
    assert deck.kept_of(alice.pk, asked) == {"das H\u00e4hnchen", "Gurke"}
    # Only a single word and its article: a phrase is itself.
    deck.keep(alice.pk, "Kaffee zum Mitnehmen")
    assert deck.keep(alice.pk, "der Kaffee zum Mitnehmen").german == "der Kaffee zum Mitnehmen"
    assert deck.keep(alice.pk, "die").german == "die"  # an article alone is a word
    # The report says so, and its Keep all leaves it out.
    session = complete(start_session(alice, marketplace))
    words = [{"german": "das H\u00e4hnchen", "gloss": "chicken"}, {"german": "die Birne"}]
    with acting_as_staff():
        SceneReport.objects.create(
            session_id=session.pk, status="ready", kind="offline", content={"words": words}
        )
    client.force_login(alice)
    report = client.get(f"/sessions/{session.pk}/report/").content.decode()
    assert re.search(r'das H\u00e4hnchen</span> \u2014 chicken <span class="kept"', report)
    assert "Keep the other word" in report


def test_a_learner_writes_the_meaning_of_a_card_kept_without_one(client, alice, bob):
    """Kept offline (no model to ask), a card had no meaning for ever, and no page offered to
    write one (a newcomer's walk)."""
    card = deck.keep(alice.pk, "H\u00e4hnchen", example="Mit H\u00e4hnchen, bitte.")
    client.force_login(alice)
    review = client.get("/review/").content.decode()
    assert f'write it on <a href="/deck/?meaning={card.pk}">' in review
    deck.keep(alice.pk, "die Gurke", "cucumber")
    page = client.get("/deck/").content.decode()
    assert page.count('name="meaning"') == 1 and f'id="meaning-{card.pk}"' in page

    given = client.post("/deck/meaning/", {"card": str(card.pk), "meaning": "  chicken \n"})
    assert given.status_code == 302
    assert given.url == f"/deck/?saved={card.pk}#card-{card.pk}"  # the focus on it
    page = client.get(given.url).content.decode()
    # Said beside the card (at the page's top it was out of sight: a newcomer's walk).
    saved = '\u2014 chicken <span class="kept" role="status">Meaning saved&nbsp;\u2713</span>'
    assert saved in page and 'name="meaning"' not in page
    assert {c.german: c.gloss for c in deck.all_cards(alice.pk)}["H\u00e4hnchen"] == "chicken"

    # The model's meaning, come meanwhile, does not replace the learner's.
    assert deck.add_glosses(alice.pk, {str(card.pk): "a chicken"}) == 0
    assert {c.german: c.gloss for c in deck.all_cards(alice.pk)}["H\u00e4hnchen"] == "chicken"

    # Nothing to save: said, and the card left as it was.
    empty = deck.keep(alice.pk, "frisch")
    refusals = {
        "": "Write the meaning, in letters that show.",
        "\u200b\u3164 ": "Write the meaning, in letters that show.",
        "fresh\x00": "That contains characters that cannot be kept.",  # (not "letters that show")
        "roll\x07": "That contains characters that cannot be kept.",
        "x" * 301: "A meaning is at most 300 characters.",
    }
    for meaning, said in refusals.items():
        refused = client.post("/deck/meaning/", {"card": str(empty.pk), "meaning": meaning})
        assert refused.status_code == 400
        assert f'id="meaning-{empty.pk}-error" role="alert">{said}' in refused.content.decode()
    assert {c.german: c.gloss for c in deck.all_cards(alice.pk)}["frisch"] == ""

    # Another learner's card, or none: not found, and unchanged.
    client.force_login(bob)
    for sent in ({"card": str(empty.pk), "meaning": "fresh"}, {"card": "x", "meaning": "y"}, {}):
        assert client.post("/deck/meaning/", sent).status_code == 404
    assert client.get("/deck/meaning/").status_code == 405
    assert {c.german: c.gloss for c in deck.all_cards(alice.pk)}["frisch"] == ""


def test_a_learner_corrects_a_cards_meaning(client, alice, bob):
    """Given once, a meaning with a typo could not be corrected: the card had to be removed,
    its reviews with it, and kept again (a newcomer's walk)."""
    card = deck.keep(alice.pk, "probieren", "to try, to taset")
    client.force_login(alice)
    page = client.get("/deck/").content.decode()
    assert f'href="/deck/?meaning={card.pk}">Change the meaning' in page
    assert 'name="meaning"' not in page
    asked = client.get(f"/deck/?meaning={card.pk}").content.decode()
    assert 'value="to try, to taset" autofocus' in asked and "Its new meaning" in asked

    refused = client.post("/deck/meaning/", {"card": str(card.pk), "meaning": "\u200b"})
    assert refused.status_code == 400 and 'value="\u200b"' in refused.content.decode()
    corrected = client.post("/deck/meaning/", {"card": str(card.pk), "meaning": "to try, to taste"})
    assert corrected.url == f"/deck/?saved={card.pk}#card-{card.pk}"
    [kept] = deck.all_cards(alice.pk)
    assert (kept.gloss, kept.pk) == ("to try, to taste", card.pk)

    # Removed in another tab meanwhile: said, with what was written (it went without a word,
    # and a refused one's error showed nowhere: the attacker's recheck).
    deck.remove(alice.pk, card.pk)
    for written in ("to sample", "\u200b"):
        gone = client.post("/deck/meaning/", {"card": str(card.pk), "meaning": written})
        assert gone.status_code == 404
        assert (
            "That card is no longer in your deck (removed in another tab?)" in gone.content.decode()
        )
    assert (
        "its meaning \u201eto sample\u201c was not saved"
        in client.post(
            "/deck/meaning/", {"card": str(card.pk), "meaning": "to sample"}
        ).content.decode()
    )
    deck.put_back(alice.pk, card.pk)

    # Another learner's card: not found, and unchanged (row-level security).
    client.force_login(bob)
    sent = {"card": str(card.pk), "meaning": "to taste"}
    assert client.post("/deck/meaning/", sent).status_code == 404
    assert deck.all_cards(alice.pk)[0].gloss == "to try, to taste"


def test_two_tabs_changing_a_meaning_at_once_are_told(client, alice):
    """Two tabs saving a card's meaning at once: the last won, and the other was not told (the
    attacker's recheck). The form says which meaning it changes; one changed meanwhile is said,
    with what was written kept, and saved again it replaces it. A stack of marks on a letter
    is cut to three: 299 drew over the page above."""
    card = deck.keep(alice.pk, "die Tasse", "cup")
    client.force_login(alice)
    assert 'name="was" value="cup"' in client.get(f"/deck/?meaning={card.pk}").content.decode()
    first = {"card": str(card.pk), "was": "cup", "meaning": "a cup"}
    assert client.post("/deck/meaning/", first).status_code == 302
    second = {"card": str(card.pk), "was": "cup", "meaning": "mug"}
    told = client.post("/deck/meaning/", second)
    assert told.status_code == 409
    page = told.content.decode()
    assert "Its meaning is now \u201ea cup\u201c (saved in another tab" in page
    assert 'name="was" value="a cup"' in page and 'value="mug"' in page
    again = client.post("/deck/meaning/", {**second, "was": "a cup"})
    assert again.status_code == 302 and deck.all_cards(alice.pk)[0].gloss == "mug"
    piled = client.post("/deck/meaning/", {**second, "was": "mug", "meaning": "a" + "\u0301" * 299})
    assert piled.status_code == 302 and deck.all_cards(alice.pk)[0].gloss == "a" + "\u0301" * 3


def test_a_meaning_given_with_a_line_break_can_be_changed(client, alice):
    """The model's meaning "to greet;\nsaid on arrival" was stored so, and the form's copy of
    it came back from a browser with CRLF: every save was "changed in another tab" (the
    attacker's replay). Meanings given are held on one line, as a learner's; one stored
    before is compared as one line."""
    given, kept_before = (deck.keep(alice.pk, word) for word in ("begrüßen", "grüßen"))
    assert deck.add_glosses(alice.pk, {str(given.pk): "to greet;\nsaid\ton arrival "}) == 1
    with acting_as_staff():  # and a meaning stored before, with its line break
        assert Card.objects.get(pk=given.pk).gloss == "to greet; said on arrival"
        Card.objects.filter(pk=kept_before.pk).update(gloss="to say hello;\nalso: to greet")
    client.force_login(alice)
    form = client.get(f"/deck/?meaning={kept_before.pk}").content.decode()
    assert 'name="was" value="to say hello;\nalso: to greet"' in form
    sent = {"card": str(kept_before.pk), "was": "to say hello;\r\nalso: to greet"}
    assert client.post("/deck/meaning/", {**sent, "meaning": "to greet"}).status_code == 302
    with acting_as_staff():
        assert Card.objects.get(pk=kept_before.pk).gloss == "to greet"
    # Still told when it did change meanwhile.
    assert client.post("/deck/meaning/", {**sent, "meaning": "to wave"}).status_code == 409


@pytest.mark.parametrize(
    "statement",
    ["UPDATE deck_cards SET german = 'x'", "UPDATE deck_cards SET user_id = user_id"],
)
def test_a_review_changes_only_the_schedule(alice, statement):
    deck.keep(alice.pk, "die Birne", "pear")
    with pytest.raises(DatabaseError, match="permission denied"), acting_as_learner(alice.pk):
        with connection.cursor() as cursor:
            cursor.execute(statement)


def test_a_learner_changes_only_their_own_cards_meanings(alice, bob):
    """The database holds it too: as the app's own role a learner may correct a meaning
    (learning 0012: given once, a typo in it could not be: a newcomer's walk), of their own
    cards only."""
    pear, bobs = deck.keep(alice.pk, "die Birne", "pear"), deck.keep(bob.pk, "die Birne", "pear")
    with acting_as_learner(alice.pk):
        assert Card.objects.filter(pk=pear.pk).update(gloss="a pear") == 1
        assert Card.objects.filter(pk=bobs.pk).update(gloss="mine now") == 0
    assert deck.all_cards(alice.pk)[0].gloss == "a pear"
    assert deck.all_cards(bob.pk)[0].gloss == "pear"


def test_the_deck_exports_as_csv_and_for_anki(client, alice, marketplace):
    card = deck.keep(alice.pk, "die Schale", "punnet", "Eine Schale Erdbeeren.", marketplace.pk)
    with acting_as_staff():  # as staff may write it in the admin (keep() holds no tab)
        Card.objects.filter(pk=card.pk).update(example="Eine Schale\tErdbeeren, bitte.")
    client.force_login(alice)
    body = client.get("/deck/export.csv").content
    # With UTF-8's byte order mark, which Excel needs to read it as UTF-8: "Tüte" came out as
    # "TÃ¼te" (a newcomer's walk).
    assert body.startswith("\ufeffgerman,".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["german", "gloss", "example", "scene"]
    assert rows[1][:4] == ["die Schale", "punnet", "Eine Schale\tErdbeeren, bitte.", "Marketplace"]
    anki = client.get("/deck/export.txt")
    assert anki["Content-Disposition"] == 'attachment; filename="maraum-deck-anki.txt"'
    lines = anki.content.decode().splitlines()
    assert lines[:4] == [
        "#separator:tab",
        "#html:false",
        "#columns:German\tBack\tTags",
        "#tags column:3",  # (Anki took it for a field: a newcomer's walk)
    ]
    assert lines[-1].split("\t") == [
        '"die Schale"',
        '"punnet — Eine Schale Erdbeeren, bitte."',
        '"marketplace"',
    ]


def test_deleting_the_account_deletes_the_deck(alice):
    deck.keep(alice.pk, "der Abschied", "farewell")
    deck.remove(alice.pk, deck.keep(alice.pk, "weg").pk)  # and what Undo would put back
    delete_account(alice)
    with acting_as_staff():
        assert not Card.objects.exists() and not RemovedCard.objects.exists()


def test_keeping_goes_back_only_to_this_site(client, alice):
    client.force_login(alice)
    away = client.post("/deck/keep/", {"german": "weg", "back": "https://evil.example/"})
    assert away.url == "/deck/"
    home = client.post("/deck/keep/", {"german": "hier", "back": "/history/"})
    assert home.url == "/history/"
    for back in ("-1", "deck", "/deck/\r\nX-Forged: 1"):  # a 500 each (the attacker's replay)
        assert client.post("/deck/keep/", {"german": "da", "back": back}).url == "/deck/"


@pytest.mark.parametrize("german", ["Hallo\x00", "Hallo\x1b[31m", "Hallo\ufffe"])
def test_unprintable_text_is_refused_not_a_crash(client, alice, german):
    client.force_login(alice)
    response = keep(client, german=german)
    assert response.status_code == 400 and b"cannot be kept" in response.content


def test_a_card_never_becomes_a_spreadsheet_formula(client, alice):
    deck.keep(alice.pk, '=HYPERLINK("https://evil.example","x")', "-1+1")
    # A German Excel splits at semicolons: a cell starts there too (the attacker's replay).
    deck.keep(alice.pk, "x", 'y;=1+1; "@SUM(A1)";-2')
    client.force_login(alice)
    rows = list(csv.reader(io.StringIO(client.get("/deck/export.csv").content.decode("utf-8-sig"))))
    assert rows[1][:2] == ['\'=HYPERLINK("https://evil.example","x")', "'-1+1"]
    assert rows[2][:2] == ["x", "y;'=1+1; \"'@SUM(A1)\";'-2"]


def test_an_answer_sent_twice_counts_once(alice):
    card = deck.keep(alice.pk, "die Quittung", "receipt")
    first = deck.review(alice.pk, card.pk, "easy")
    again = deck.review(alice.pk, card.pk, "easy")  # a double click, a resent form
    assert (first.counted, again.counted) == (True, False)
    assert (again.card.reviews, again.card.due) == (1, first.card.due)


def test_an_answer_from_a_second_tab_says_it_did_not_count(client, alice):
    """Two tabs showed the same card: the second answer was dropped without a word (the
    attacker's replay)."""
    card = deck.keep(alice.pk, "die Quittung", "receipt")
    client.force_login(alice)
    assert client.post(f"/review/{card.pk}/", {"rating": "good"}).status_code == 302
    page = client.post(f"/review/{card.pk}/", {"rating": "again"}, follow=True)
    assert "answered already" in page.content.decode()
    assert deck.all_cards(alice.pk)[0].reviews == 1


@pytest.mark.parametrize("kind", ["xyz", "csv.txt", "x" * 500])
def test_only_the_two_kinds_of_download_exist(client, alice, kind):
    client.force_login(alice)
    assert client.get(f"/deck/export.{kind}").status_code == 404


@pytest.mark.parametrize(
    "fields",
    [
        {"german": ["das Wort"], "gloss": ["x" * 301]},
        {"german": ["das Wort"], "example": "y" * 1001},
        {"german": ["\ufffd\ufffdabc"]},  # bytes that were not UTF-8, as Django decodes them
        {"german": ["das Wort"], "gloss": ["\ufffd"]},
    ],
)
def test_a_keep_refuses_what_it_would_cut_or_could_not_read(client, alice, fields):
    """An over-long meaning or line was cut without a word, and bytes that were not UTF-8
    were kept as replacement characters (the attacker's replay)."""
    client.force_login(alice)
    assert client.post("/deck/keep/", fields).status_code == 400
    assert deck.all_cards(alice.pk) == []


def test_a_word_of_a_line_holding_a_replacement_character_can_be_kept(client, alice):
    """The line is stored as sent, U+FFFD and all: no word of it could be kept with it as the
    example, nor a report's word the learner used in it (the attacker's replay)."""
    client.force_login(alice)
    line = "Einen D\ufffdner und eine Cola, bitte."
    kept = client.post("/deck/keep/", {"german": ["die Cola"], "example": line})
    assert kept.status_code == 302
    [card] = deck.all_cards(alice.pk)
    assert (card.german, card.example) == ("die Cola", line)


def test_typed_words_around_a_replacement_character_say_why_they_cannot_be_kept(client, alice):
    """It said "Choose a word: letters or numbers, not only spaces" (the attacker's recheck)."""
    client.force_login(alice)
    form = {"german": "guten tag", "in_line": "1", "example": "Guten \ufffd Tag! Wie geht's?"}
    refused = client.post("/deck/keep/", form)
    assert refused.status_code == 400
    assert refused.content.decode() == "That contains characters that cannot be kept."


def test_a_card_without_a_meaning_says_so_before_its_line_on_its_back_in_anki(client, alice):
    """Its back began with the dash between a meaning and the line (a newcomer's walk); then
    it was the line alone, read as the meaning (the next walk)."""
    deck.keep(alice.pk, "halb", example="Das Brot gibt es auch halb.")
    client.force_login(alice)
    lines = client.get("/deck/export.txt").content.decode().splitlines()
    assert lines[4:] == ['"halb"\t"(no meaning saved) \u2014 Das Brot gibt es auch halb."\t""']


def test_a_card_starting_with_a_hash_or_quote_stays_a_card_in_anki(client, alice):
    deck.keep(alice.pk, "#separator:comma", "not a setting")
    deck.keep(alice.pk, '"Hallo', "with a quote")
    client.force_login(alice)
    lines = client.get("/deck/export.txt").content.decode().splitlines()
    assert lines[4:] == [
        '"""Hallo"\t"with a quote"\t""',
        '"#separator:comma"\t"not a setting"\t""',
    ]


@pytest.mark.parametrize("scenario", ["99999", "9" * 25, "²", "١"])
def test_an_unknown_scene_is_refused(client, alice, scenario):
    client.force_login(alice)
    response = keep(client, german="Hallo", scenario=scenario)
    assert response.status_code == 400 and b"Unknown scene" in response.content


def test_only_invisible_characters_are_no_word(client, alice):
    client.force_login(alice)
    assert keep(client, german="\u200b\u3164").status_code == 400


def test_keeping_is_throttled(client, alice, settings):
    settings.DECK_KEEPS_PER_LEARNER = "3/hour"
    client.force_login(alice)
    assert [keep(client, german=f"Wort {n}").status_code for n in range(4)] == [200] * 3 + [429]


def test_typed_words_the_line_does_not_have_cost_a_keep_each(client, alice, bob, settings):
    """Refused before the throttle, each a search of up to a 1,000-character line, they could
    be sent without end (the attacker's recheck); found, they cost what any keep does."""
    settings.DECK_KEEPS_PER_LEARNER = "3/hour"
    client.force_login(alice)
    line = "Zwei Brötchen, bitte!"
    typed = partial(keep, client, example=line, in_line="1", name_it="1")
    assert typed(german="Zwei Brezeln").status_code == 400
    assert typed(german="zwei brötchen").status_code == 200
    assert typed(german="Brötchen Zwei").status_code == 400
    assert typed(german="bitte").status_code == 429
    settings.DECK_KEEPS_PER_LEARNER = "1/hour"  # found, then refused: the search still paid
    client.force_login(bob)
    assert typed(german="Zwei", scenario="99999").status_code == 400  # an unknown scene
    assert typed(german="Zwei").status_code == 429
    client.force_login(alice)
    both = typed(german=["zwei", "bitte"])  # one line's words at a time
    assert both.status_code == 400 and "one line at a time" in both.content.decode()
    assert [card.german for card in deck.all_cards(alice.pk)] == ["Zwei Brötchen"]


def test_words_the_deck_holds_already_cost_no_keeps(client, alice, settings):
    """A "Keep all" of a report whose words were kept one by one spent a keep on each of them
    and kept nothing; it costs one keep, the request's own."""
    settings.DECK_KEEPS_PER_LEARNER = "4/hour"
    client.force_login(alice)
    assert keep(client, german=["eins", "zwei"]).status_code == 200  # 2 keeps
    assert keep(client, german=["eins", "Zwei"]).status_code == 200  # 1 keep: nothing new
    assert keep(client, german="drei").status_code == 200  # the 4th
    assert keep(client, german="vier").status_code == 429


def test_the_deck_is_bounded(client, alice, monkeypatch):
    client.force_login(alice)
    for n in range(3):
        deck.keep(alice.pk, f"Wort {n}")
    monkeypatch.setattr(deck, "MAX_CARDS", 3)
    full = keep(client, german="Noch eins")
    assert full.status_code == 400 and b"its most" in full.content


def test_a_reports_words_already_in_the_deck_show_as_kept(client, alice, marketplace):
    """After a reload the report offered "Keep" again for words the learner had kept."""
    session = complete(start_session(alice, marketplace))
    words = [{"german": "die Schale", "gloss": "punnet"}, {"german": "die Tüte", "gloss": "bag"}]
    with acting_as_staff():
        SceneReport.objects.create(
            session_id=session.pk, status="ready", kind="offline", content={"words": words}
        )
    client.force_login(alice)
    keep(client, german="Die Schale")
    shown = client.get(f"/sessions/{session.pk}/report/").content.decode()
    assert shown.count("In your deck\u00a0✓") == 1
    assert "“die Tüte” in your deck" in shown and "“die Schale” in your deck" not in shown


def _report_of_words(client, learner, scene, words: list[dict]) -> str:
    """The address of the offline report, with these words, on a scene the learner completed
    (logged in)."""
    session = complete(start_session(learner, scene))
    with acting_as_staff():
        SceneReport.objects.create(
            session_id=session.pk, status="ready", kind="offline", content={"words": words}
        )
    client.force_login(learner)
    return f"/sessions/{session.pk}/report/"


def test_keep_all_in_a_report_shows_every_word_kept_and_offers_it_no_more(
    client, alice, marketplace
):
    """After "Keep all" each word still offered "Keep", and the report "Keep all" again."""
    words = [{"german": "die Schale", "gloss": "punnet"}, {"german": "die Tüte", "gloss": "bag"}]
    report_url = _report_of_words(client, alice, marketplace, words)
    assert "Keep all 2 words" in client.get(report_url).content.decode()

    # htmx swaps the report for the one this answers with (hx-target and hx-select #report).
    response = client.post(
        "/deck/keep/",
        {"german": ["die Schale", "die Tüte"], "gloss": ["punnet", "bag"], "back": report_url},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="report",
        follow=True,
    )

    shown = response.content.decode()
    assert 'id="report"' in shown and shown.count("In your deck\u00a0✓") == 2
    assert "Keep all" not in shown


def test_a_reports_keep_all_says_how_many_it_keeps(client, alice, marketplace):
    """It said "Keep all 3 words" with one of them kept (a newcomer's walk); a word's own Keep
    says which it kept."""
    words = [{"german": german, "gloss": ""} for german in ("die Schale", "die Tüte", "bitte")]
    report_url = _report_of_words(client, alice, marketplace, words)
    assert "Keep all 3 words" in client.get(report_url).content.decode()
    one = client.post("/deck/keep/", {"german": "bitte", "name_it": "1"}, HTTP_HX_REQUEST="true")
    assert "Kept „bitte“\u00a0✓" in one.content.decode()
    shown = client.get(report_url).content.decode()
    assert "Keep the other 2 words" in shown and "Keep all" not in shown
    assert shown.count('name="name_it" value="1"') == 2  # each word's Keep names its word


def test_a_reports_keep_all_names_phrases_as_phrases(client, alice, marketplace):
    """ "Keep all 5 words" counted "Ich hätte gern …" as a word (a newcomer's walk)."""
    words = [
        {"german": german, "gloss": ""}
        for german in ("der Apfel (die Äpfel)", "der Kollege / die Kollegin", "Ich hätte gern …")
    ]
    report_url = _report_of_words(client, alice, marketplace, words)
    assert "Keep all 3 words and phrases" in client.get(report_url).content.decode()
    client.post("/deck/keep/", {"german": ["der Apfel (die Äpfel)", "der Kollege / die Kollegin"]})
    assert "Keep the other phrase</button>" in client.get(report_url).content.decode()


def test_a_report_offers_its_words_as_the_deck_holds_them_each_once(client, alice, marketplace):
    """A word that drew nothing made "Keep all" refused for every word, and "geht\u2019s" and
    "geht's" were two rows of one card (the attacker's recheck)."""
    words = [
        {"german": "\u200b\u2060", "gloss": "nothing"},
        {"german": "Wie geht\u2019s?", "gloss": "How are you?"},
        {"german": "Wie geht's?", "gloss": "How are you?"},
        {"german": "die\u00a0T\u00fcte", "gloss": "bag"},
    ]
    report_url = _report_of_words(client, alice, marketplace, words)
    shown = client.get(report_url).content.decode()
    assert "Keep all 2 words" in shown and '<span lang="de"></span>' not in shown
    assert '<span lang="de">Wie geht&#x27;s?</span>' in shown
    sent = re.findall(r'name="german" value="([^"]*)"', shown.split("Keep all")[0])
    kept = client.post("/deck/keep/", {"german": [unescape(w) for w in sent[-2:]], "gloss": ""})
    assert kept.status_code == 302
    assert sorted(c.german for c in deck.all_cards(alice.pk)) == ["Wie geht's?", "die T\u00fcte"]


def test_a_report_with_one_word_offers_keep_beside_it_and_no_keep_all(client, alice, marketplace):
    """It offered "Keep all 1 words" beside the word's own "Keep" (a newcomer's walk)."""
    session = complete(start_session(alice, marketplace))
    with acting_as_staff():
        SceneReport.objects.create(
            session_id=session.pk,
            status="ready",
            kind="offline",
            content={"words": [{"german": "das Brötchen", "gloss": "bread roll"}]},
        )
    client.force_login(alice)
    shown = client.get(f"/sessions/{session.pk}/report/").content.decode()
    assert "“das Brötchen” in your deck" in shown  # the word's own Keep button
    assert "Keep all" not in shown


def test_a_chat_line_kept_shows_as_kept_on_the_page_the_transcript_and_a_reconnect(
    client, alice, marketplace
):
    """After a reload a kept line offered "Keep" again (the deck answered "In your deck")."""
    from chat import conversations, frames
    from tests.conftest import add_message

    session = conversations.start(alice.pk, marketplace)
    add_message(session, "user", "main", "Zwei Kilo Äpfel, bitte.")
    client.force_login(alice)
    keep(client, german="zwei kilo äpfel, bitte.")

    def line_of(html: str, words: str) -> str:
        return next(line for line in html.split("<article")[1:] if words in line)

    page = client.get(f"/sessions/{session.pk}/").content.decode()
    sync = frames.sync(conversations.load(alice.pk, session.pk), {}, None)
    complete(session)
    transcript = client.get(f"/history/{session.pk}/").content.decode()
    # A line kept from the transcript carries its scene (the chat page's script adds it, and
    # the transcript has none: its cards had no scene, a newcomer's walk).
    assert f'name="scenario" value="{marketplace.pk}"' in line_of(transcript, "frisches Obst")
    for html in (page, sync, transcript):
        kept, opening = line_of(html, "Äpfel, bitte."), line_of(html, "frisches Obst")
        # Its Keep is for words selected in it, shown with them (the last note); the
        # transcript has no script to show it. Its "Keep words" lists them, there too.
        assert "In your deck\u00a0✓" in kept
        if html is transcript:
            assert "keep-form" not in kept
        else:
            assert "data-words-only" in kept and " hidden>Keep" in kept
        for line in (kept, opening):
            assert '<div class="line-words"></div>' in line and ">Keep words<" in line
        assert "keep-form" in opening and "In your deck" not in opening
        assert "data-words-only" not in opening


def test_a_helper_answers_phrases_in_the_deck_say_so_on_the_page_and_a_reconnect(
    client, alice, marketplace
):
    """A phrase of a helper answer the deck held was offered still, and answered "is in your
    deck" only once pressed (the last note's left item)."""
    from chat import conversations, frames
    from tests.conftest import add_message

    session = conversations.start(alice.pk, marketplace)
    answer = 'Say „zwei Kilo“ (two kilos) or "ein Pfund" (a pound).'
    add_message(session, "helper", "helper", answer)
    client.force_login(alice)
    keep(client, german="Zwei  kilo")  # as the deck compares: case and spaces aside

    def answer_in(html: str) -> str:
        return next(part for part in html.split("<article")[1:] if "ein Pfund" in part)

    page = client.get(f"/sessions/{session.pk}/").content.decode()
    sync = frames.sync(conversations.load(alice.pk, session.pk), {}, None)
    for html in (page, sync):
        shown = answer_in(html)
        kept = '<span class="kept">„<span lang="de">zwei Kilo</span>“ in your deck\u00a0✓</span>'
        assert kept in shown
        assert 'name="german" value="zwei Kilo"' not in shown
        assert 'name="german" value="ein Pfund"' in shown and "data-phrase" in shown


def test_kept_words_are_found_as_the_database_compares_them(alice):
    """Python's lower() and PostgreSQL's differ for İ and a final Σ: such a kept line still
    offered "Keep" after a reload (found by the attacker's replay)."""
    for german in ("İch nehme zwei Brötchen.", "Ich war in ATHEN und habe ΚΟΣΜΟΣ gelesen."):
        deck.keep(alice.pk, german)
    asked = [
        "İch nehme zwei Brötchen.",
        " ich nehme zwei brötchen. ",
        "Ich war in ATHEN und habe ΚΟΣΜΟΣ gelesen.",
        "Ich war in Athen.",
    ]
    assert deck.which_kept(alice.pk, asked) == [True, True, True, False]
    assert deck.kept_of(alice.pk, asked) == set(asked[:3])


@pytest.mark.parametrize("line", ["Brot " * 100, "a\u0331" * 301])
def test_a_long_line_is_kept_cut_to_a_cards_length(client, alice, line):
    client.force_login(alice)
    assert keep(client, german=deck.as_kept(line)).status_code == 200
    [card] = deck.all_cards(alice.pk)
    assert len(card.german) <= deck.MAX_WORD_LENGTH and card.german.endswith("…")


def test_a_requests_own_cards_come_first_among_those_awaiting_meanings(alice):
    waiting = [deck.keep(alice.pk, f"das Wort {n}") for n in range(25)]
    deck.meanings_asked(alice.pk, [card.pk for card in waiting])
    mine = deck.keep(alice.pk, "die Antwort")
    deck.keep(alice.pk, "die Frage")  # no meaning, none asked for: not awaited

    taken = deck.awaiting_meanings(alice.pk, [str(mine.pk)], most=20)

    assert taken[0].pk == mine.pk and len(taken) == 20
    assert {card.german for card in taken[1:]} <= {card.german for card in waiting}


@pytest.mark.parametrize(
    "selected, line, example",
    [
        (
            "ein halbes Brot",
            "(Offline mode: without the model I cannot read your line, so here is a tip "
            "instead.) Ask for „ein halbes Brot“ if a whole one is too much. Then pay.",
            "Ask for „ein halbes Brot“ if a whole one is too much.",
        ),
        ("Brot.“", "Sag „ein Brot.“ Dann zahlst du.", "Sag „ein Brot.“"),
        ("Brot. Und", "Ein Brot. Und zwei Brötchen! Danke.", "Ein Brot. Und zwei Brötchen!"),
        ("Danke", "Bitte.\nDanke sehr", "Danke sehr"),
        ("Ein Brot.", "Ja, gern! Ein Brot.", "Ja, gern! Ein Brot."),  # a sentence: its line
        ("Ein Brot", "Ja, gern! Ein Brot.", "Ja, gern! Ein Brot."),  # selected without its mark
        # No sentence ends after a number or an abbreviation (the recheck replay).
        (
            "Brandt",
            'Say your name. Germans answer with theirs: "Praxis Dr. Brandt, Peters." Then wait.',
            'Germans answer with theirs: "Praxis Dr. Brandt, Peters."',
        ),
        (
            "März",
            "Er kam. Ich wohne seit dem 1. März hier. Gut.",
            "Ich wohne seit dem 1. März hier.",
        ),
        (
            "Semmel",
            "Rolls have names, e.g. Semmel or Schrippe. Ask.",
            "Rolls have names, e.g. Semmel or Schrippe.",
        ),
        ("Tabletten", "Ask: Tropfen vs. Tabletten? Say it.", "Ask: Tropfen vs. Tabletten?"),
        ("fünf", "Es kostet ca. fünf Euro. Danke.", "Es kostet ca. fünf Euro."),
        ("das Brötchen", "Ein Brot, bitte.", "Ein Brot, bitte."),  # not in it: the line
        (  # a quoted phrase, its sentence: the line (its example was the phrase in quotes)
            "Ich hätte gern vier Brötchen.",
            '"Ich hätte gern vier Brötchen." (I\'d like four bread rolls.) Say it.',
            '"Ich hätte gern vier Brötchen." (I\'d like four bread rolls.) Say it.',
        ),
        ("Tschüss", "„Tschüss!“ Bye!", "„Tschüss!“ Bye!"),
        (  # a sentence kept whole, after a lead-in: the line (it was nearly itself again)
            "Einen Döner, bitte.",
            'Ordering: "Einen Döner, bitte." Then you pay.',
            'Ordering: "Einen Döner, bitte." Then you pay.',
        ),
    ],
)
def test_words_kept_from_a_line_have_the_sentence_holding_them_as_example(
    alice, selected, line, example
):
    """Words selected in a helper answer had the whole English answer as their example, the
    offline note with it (a newcomer's walk)."""
    assert deck.keep(alice.pk, selected, example=line).example == example


@pytest.mark.parametrize(
    "selected, answer, example",
    [
        (
            "Ohne Zwiebeln, bitte.",
            "(Offline mode: without the model I cannot read your question, so here is a tip "
            'instead.) "Mit allem?" means \u2018With everything?\u2019 (all the salad). To leave '
            'something out: "Ohne Zwiebeln, bitte." (Without onions, please.) Or "Mit allem."',
            'To leave something out: "Ohne Zwiebeln, bitte." (Without onions, please.)',
        ),
        (
            "Einen D\u00f6ner, bitte",
            'Ordering: "Einen D\u00f6ner, bitte." Then you pay.',
            'Ordering: "Einen D\u00f6ner, bitte."',
        ),
        ("Tsch\u00fcss!", '"Tsch\u00fcss!" (Bye!) Say it as you go.', ""),  # itself: none
        # The model's apostrophe, kept as the deck holds it, is found (the whole answer was
        # the example); a "?“" before a gloss or words in lower case ends no sentence (the
        # lead-in began "to friends": the attacker's recheck).
        (
            "Wie geht\u2019s?",
            "Say \u201eWie geht\u2019s?\u201c (How are you?) to friends, and \u201eEinen"
            " D\u00f6ner, bitte.\u201c (A doner, please.) when ordering. Then pay.",
            "Say \u201eWie geht's?\u201c (How are you?)",
        ),
        (
            "Einen D\u00f6ner, bitte.",
            "Say \u201eWie geht\u2019s?\u201c (How are you?) to friends, and \u201eEinen"
            " D\u00f6ner, bitte.\u201c (A doner, please.) when ordering. Then pay.",
            "Say \u201eWie geht's?\u201c (How are you?) to friends, and \u201eEinen"
            " D\u00f6ner, bitte.\u201c (A doner, please.)",
        ),
        (
            "Guten Appetit!",
            'You hear \u201eGuten Appetit!\u201c. Say "Danke!"',
            "You hear \u201eGuten Appetit!\u201c",
        ),
    ],
)
def test_a_sentence_kept_from_a_helper_answer_has_its_lead_in_as_example(
    alice, selected, answer, example
):
    """A sentence kept whole from a helper answer had the whole English answer as its example,
    the offline note with it (a newcomer's walk); a role-play line stays its sentence's
    example (test_words_kept_from_a_line_have_the_sentence_holding_them_as_example)."""
    card = deck.keep(alice.pk, selected, example=answer, example_language="en")
    assert card.example == example


def test_a_phrase_selected_in_a_helper_answer_has_the_gloss_the_answer_gives_it(alice):
    """Pressed in the answer's list of phrases a phrase came with its gloss, selected it came
    without one (a newcomer's recheck)."""
    answer = "At the till: „Ich zahle bar“ (I'll pay cash), or „mit Karte“ (by card)."
    card = deck.keep(alice.pk, "ich zahle bar", example=answer, example_language="en")
    assert card.gloss == "I'll pay cash"
    assert deck.keep(alice.pk, "Karte", example=answer, example_language="en").gloss == ""
    line = deck.keep(alice.pk, "mit Karte", example=answer).gloss  # a role-play line: German
    assert line == ""


def test_a_whole_line_kept_is_its_own_example(alice):
    assert deck.keep(alice.pk, "Ein Brot, bitte.", example="Ein Brot, bitte.").example == ""


@pytest.mark.parametrize(
    ("sent", "stored", "shown"), [("en", "en", "“"), ("xx", "de", "„"), ("", "de", "„")]
)
def test_a_helper_answers_example_is_read_as_english(client, alice, sent, stored, shown):
    """A selection kept from a helper answer had its English sentence marked as German, for
    screen readers and the quotes (a newcomer's walk)."""
    client.force_login(alice)
    line = "Say der Apfel: it is masculine."
    fields = {"german": "der Apfel", "example": line}
    assert keep(client, **fields, example_language=sent).status_code == 200
    card = deck.all_cards(alice.pk)[0]
    assert (card.example, card.example_language) == (line, stored)
    page = client.get("/review/").content.decode()
    assert f'<p class="muted card-example" lang="{stored}">{shown}{line}' in page
    # The deck lists it too (it listed no example: the last note).
    page = client.get("/deck/").content.decode()
    assert f'<span class="muted card-example" lang="{stored}">{shown}{line}' in page


def test_a_helper_answers_keep_says_its_line_is_english(client, alice, marketplace):
    from chat import conversations
    from tests.conftest import add_message

    session = conversations.start(alice.pk, marketplace)  # with the helper's greeting
    add_message(session, "user", "helper", "What is an apple?")
    add_message(session, "helper", "helper", "Der Apfel: an apple.")
    add_message(session, "user", "main", "Einen Apfel, bitte.")
    client.force_login(alice)
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    # Two answers' Keep selection, and the greeting's one quoted phrase ("Ich hätte …"; its
    # "Sie" is advice, not a phrase: a newcomer's walk).
    assert page.count('name="example_language" value="en"') == 2 + 1
    assert page.count('name="example"') == 3 + 2  # and the main chat's opening and line


def test_each_role_play_lines_keep_button_is_named_by_its_line(client, alice, marketplace):
    """Every role-play line's button was "Keep in your deck": a screen reader's list of buttons
    could not tell them apart (a newcomer's walk)."""
    import html
    import re

    from chat import conversations
    from tests.conftest import add_message

    session = conversations.start(alice.pk, marketplace)
    add_message(session, "user", "main", "Einen Apfel, bitte.")
    long_line = "Gern! Sehr frische Äpfel aus dem Alten Land, heute besonders günstig."
    add_message(session, "scenario", "main", long_line)
    client.force_login(alice)
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    forms = re.findall(r'<form [^>]*class="inline-form keep-form".*?</form>', page, re.S)
    names = [
        html.unescape(re.sub(r"<[^>]+>", "", re.search(r"<button.*?</button>", form, re.S)[0]))
        for form in forms
        if "data-needs-selection" not in form and "data-phrase" not in form
    ]
    assert len(names) == 3 and len(set(names)) == 3
    assert "Keep “Einen Apfel, bitte.” in your deck" in names
    # Cut at a word, and the line read as German, the rest as English (a newcomer's recheck).
    assert "Keep “Gern! Sehr frische Äpfel aus dem Alten Land,…” in your deck" not in names
    assert "Keep “Gern! Sehr frische Äpfel aus dem Alten Land…” in your deck" in names
    assert page.count('<div class="msg-actions" lang="en">') == 4  # and the helper's greeting
    assert page.count('“<span lang="de">') == 3 * 2  # Keep, and Keep words
    # Cut by characters as Python counts them: Django's truncatechars counts a letter and its
    # combining marks as one, and a line of 999 marks named its button in 1,015 characters
    # (the attacker's recheck); its example field too.
    mark = "\u0301"
    add_message(session, "scenario", "main", "b" + mark * 7000)
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert '“<span lang="de">b' + mark * 48 + "…</span>”" in page
    assert 'name="example" value="b' + mark * 999 + '"' in page


@pytest.mark.parametrize(
    "look_alike",
    ["Ba\u0308cker", "Bäcker\u200b", "\u200bBäcker", "Bäcker\u00ad", "Bä\u200dcker", "Ｂäcker"],
)
def test_a_word_that_looks_the_same_is_the_same_card(client, alice, look_alike):
    """Seven copies of "Bäcker" were kept, each written another way (the attacker's
    replay)."""
    client.force_login(alice)
    keep(client, german="Bäcker")
    response = keep(client, german=look_alike)
    assert "In your deck" in response.content.decode()
    assert [card.german for card in deck.all_cards(alice.pk)] == ["Bäcker"]
    assert deck.which_kept(alice.pk, [look_alike]) == [True]


@pytest.mark.parametrize(
    "look_alike",
    [
        "Bäcker\ufe0f",  # a variation selector
        "B\ufe00äcker",
        "\U0001d401äcker",  # MATHEMATICAL BOLD CAPITAL B
        "B\U0001d41a\u0308cker",  # a mathematical "a" with its combining diaeresis
        "\u0412äcker",  # CYRILLIC CAPITAL LETTER VE
        "Bä\u0441ker",  # CYRILLIC SMALL LETTER ES
        "\u0392ä\u0441k\u0435r",  # Greek capital beta, Cyrillic es and ie
        "B\u04d3cker",  # CYRILLIC SMALL LETTER A WITH DIAERESIS, precomposed (the recheck)
    ],
)
def test_a_word_with_letters_of_another_alphabet_that_look_the_same_is_the_same_card(
    alice, look_alike
):
    """Variation selectors, mathematical letters and Cyrillic or Greek letters among Latin
    ones made new cards of "Bäcker" (left by the attacker's recheck)."""
    deck.keep(alice.pk, "Bäcker")
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, look_alike)
    assert deck.which_kept(alice.pk, [look_alike]) == [True]


@pytest.mark.parametrize(
    ("kept", "look_alike"),
    [
        ("Milch", "\u216filch"),  # ROMAN NUMERAL ONE THOUSAND
        ("Milch", "Mi\u217cch"),  # SMALL ROMAN NUMERAL FIFTY
        ("Brot", "Br\u0585t"),  # ARMENIAN SMALL LETTER OH
        ("Kuchen", "K\u057dchen"),  # ARMENIAN SMALL LETTER SEH
        ("Bac", "Ba\u03f2"),  # GREEK LUNATE SIGMA SYMBOL (the second recheck)
        ("Vase", "\u13d9ase"),  # CHEROKEE LETTER DO
        ("Tee", "\ua4d4ee"),  # LISU LETTER TA
        ("Ort", "\u2c9ert"),  # COPTIC CAPITAL LETTER O
        ("Bócker", "B\u1f79cker"),  # GREEK SMALL LETTER OMICRON WITH OXIA
        ("Brot", "Br\u034fot"),  # COMBINING GRAPHEME JOINER
        ("Brot", "Br\u3164ot"),  # HANGUL FILLER
        ("Öl", "\u04e6l"),  # CYRILLIC CAPITAL LETTER O WITH DIAERESIS
        ("Guten Morgen", "Guten\nMorgen"),  # a Shift+Enter line kept from the chat
        ("Guten Morgen", "Guten \n Morgen"),
        # Unassigned, where Unicode keeps code points blank (the third recheck).
        ("Zitrone", "Zitrone\u2065"),
        ("Semmel", "Semmel\ufb37"),  # unassigned, drawn blank: the attacker's replay
        ("Zitrone", "Zitro\U000e0080ne"),
        ("Zitrone", "\ufff0Zitrone"),
    ],
)
def test_more_look_alikes_are_the_same_card(alice, kept, look_alike):
    """Found by the attacker's recheck of the look-alike rules."""
    deck.keep(alice.pk, kept)
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, look_alike)


@pytest.mark.parametrize(
    "word", ["ㅋㅋ", "\ufdfa", "Nº 5", "1ª", "\u0149", "Straße", "ẞ", "m²", "[ˈbɑːn]", "Taɡ"]
)
def test_a_word_without_a_plain_latin_look_alike_is_kept_as_written(word):
    """NFKC changed Korean letters and expanded an Arabic ligature to 18 characters, and IPA
    was changed (the attacker's rechecks): only a letter whose plain form is Latin, or a letter
    of another script drawn like a Latin one, is changed."""
    assert deck.as_word(word) == word
    assert deck.as_word(deck.as_word(word)) == deck.as_word(word)


def test_a_word_wholly_in_another_alphabet_is_kept_as_written(alice):
    deck.keep(alice.pk, "Bac")
    deck.keep(alice.pk, "\u0412\u0430\u0441")  # Russian, all Cyrillic
    assert [card.german for card in deck.all_cards(alice.pk)] == ["Bac", "\u0412\u0430\u0441"]


def test_a_word_repeated_in_one_request_is_kept_and_checked_once(client, alice, monkeypatch):
    looked_for = []
    holding = deck.sentence_holding

    def counted(words, line, *rest):
        looked_for.append(words)
        return holding(words, line, *rest)

    monkeypatch.setattr(deck, "sentence_holding", counted)
    client.force_login(alice)
    response = client.post(
        "/deck/keep/",
        {"german": ["Haus", "haus", "Haus"] * 6, "example": "Das Haus ist groß."},
        HTTP_HX_REQUEST="true",
    )
    assert "Kept" in response.content.decode()
    assert looked_for == ["Haus"]
    assert [card.example for card in deck.all_cards(alice.pk)] == ["Das Haus ist groß."]


def test_the_word_before_a_period_is_looked_for_in_a_few_characters_only():
    """A regular expression searched the whole text before each period: a 999-character
    example took 7 s of CPU a request (the attacker's replay)."""
    line = "a" * 600 + " " + ". " * 197 + "Haus"
    assert deck._word_before(line, 600) == "a" * 12
    assert deck.sentence_holding("Haus", line) == line  # the words are their sentence
    assert deck.sentence_holding("Stadt", "Wir wohnen in der Hausnr. 5 der Stadt.") == (
        "Wir wohnen in der Hausnr. 5 der Stadt."
    )


def test_a_line_break_after_a_sentences_mark_ends_it_whatever_comes_next():
    """A period and a line break, then a line in lower case, was one sentence: the break
    went with the period's spaces, and the text went on in lower case."""
    line = "Guten Tag.\nwas kostet das?"
    assert deck.sentence_holding("kostet", line) == "was kostet das?"
    assert deck.words_in_line("tag was", line) is None


def test_a_nouns_example_is_its_sentence_also_where_the_line_has_another_article():
    """ "die Schale" kept all three sentences of "… Eine Schale kostet vier Euro. …", and
    "die Erdbeere" those of a line saying "Erdbeeren" (a newcomer's recheck)."""
    line = (
        "Die Erdbeeren sind heute auch sehr süß. Eine Schale kostet vier Euro. Wie wäre es damit?"
    )
    assert deck.sentence_holding("die Schale", line) == "Eine Schale kostet vier Euro."
    assert deck.sentence_holding("die Erdbeere", line) == "Die Erdbeeren sind heute auch sehr süß."
    assert deck.sentence_holding("Wie wäre es …?", line) == "Wie wäre es damit?"


def test_the_deck_lists_nouns_by_the_noun_not_its_article(client, alice):
    """Every "das" card came before every "die" card (a newcomer's recheck)."""
    for word in ("die Zeitung", "das Brot", "Apfel", "der Kaffee", "Danke", "Das macht … Euro."):
        deck.keep(alice.pk, word)
    listed = [card.german for card in deck.all_cards(alice.pk)]
    assert listed == [
        "Apfel",
        "das Brot",
        "Danke",
        "Das macht … Euro.",
        "der Kaffee",
        "die Zeitung",
    ]


def test_the_deck_lists_umlauts_with_their_letters_as_a_german_dictionary_does(client, alice):
    """ "Äpfel" stood after "Zwiebel" and "die Straße" after "die Strasse": the database sorts
    by code point (a newcomer's walk). A dictionary reads ä as a, ö as o, ü as u, ß as ss."""
    for word in ("die Zwiebel", "Äpfel", "Apfel", "die Übung", "der Bäcker", "Brot", "Öl"):
        deck.keep(alice.pk, word)
    for word in ("die Straße", "der Strand", "oben", "die Uhr"):
        deck.keep(alice.pk, word)
    listed = [card.german for card in deck.all_cards(alice.pk)]
    assert listed == [
        "Apfel",
        "Äpfel",
        "der Bäcker",
        "Brot",
        "oben",
        "Öl",
        "der Strand",
        "die Straße",
        "die Übung",
        "die Uhr",
        "die Zwiebel",
    ]


def test_an_example_is_cut_at_the_word_not_inside_a_longer_one():
    """ "die Tomate" was cut to "Die Tomatensuppe ist heute aus." (the recheck)."""
    line = "Die Tomatensuppe ist heute aus. Aber die Tomaten sind frisch."
    assert deck.sentence_holding("die Tomate", line) == "Aber die Tomaten sind frisch."
    line = "Der Terminkalender ist leider voll. Am Montag habe ich einen Termin frei."
    assert deck.sentence_holding("der Termin", line) == "Am Montag habe ich einen Termin frei."


@pytest.mark.parametrize(
    ("entry", "text", "found"),
    [
        ("die Tomate", "Zwei Tomaten, bitte.", "Tomaten"),
        ("der Beruf", "Ich bin beruflich hier.", None),
        ("das Ei", "Möchten Sie ein Brötchen?", None),  # (the recheck)
        ("seit", "Auf der Seite steht es.", None),
        ("der Apfel (die Äpfel)", "Drei Äpfel, bitte.", "Äpfel"),
        ("der Kollege / die Kollegin", "Meine Kollegin kommt gleich.", "Kollegin"),
        ("Das macht … Euro.", "Das macht 3,50 Euro, bitte.", "Das macht 3,50 Euro"),
        ("Das macht … Euro.", "Das macht nichts. Euro ist gut.", None),
        # A period in a number, or after one, or an abbreviation's, ends no sentence; a line
        # break does (the last note's item).
        ("Das macht … Euro.", "Das macht 3.50 Euro.", "Das macht 3.50 Euro"),
        ("am … um … Uhr", "Gut, am 3. Mai um 14.30 Uhr!", "am 3. Mai um 14.30 Uhr"),
        ("Das macht … Euro.", "Das macht ca. drei Euro.", "Das macht ca. drei Euro"),
        ("Das macht … Euro.", "Das macht\nEuro", None),
        ("Das macht … Euro.", "Das macht es.\neuro", None),
        ("Was kostet …?", "Was kostet das?", "Was kostet"),
    ],
)
def test_a_scenes_word_is_found_as_words_of_its_own(entry, text, found):
    match = deck.found_in(entry, text)
    assert (match.group() if match else None) == found


def test_a_phrase_with_gaps_is_found_where_one_regex_with_lazy_gaps_finds_it():
    """Found without that regex now (it took time to the power of its gaps), at the same
    place: checked against it on texts small enough for it. A mark and its spaces end
    a sentence unless the text goes on in lower case; a line break always does."""
    import random

    def with_lazy_gaps(parts, text):
        sentence_end = r"[.!?]\s++(?-i:(?![a-z(]))|[.!?][ ]*+\n|\n"
        gap = rf"(?!\w)(?:(?!{sentence_end})[\s\S])*?(?<!\w)"
        found = re.search(rf"(?<!\w){gap.join(map(re.escape, parts))}(?!\w)", text, re.I)
        return found and found.span()

    pick = random.Random(7)
    for _ in range(2000):
        parts = [
            pick.choice(["a", "ab", "b", "Das macht", "Euro"]) for _ in range(pick.randint(2, 4))
        ]
        text = "".join(
            pick.choice(["a", "b", " ", "\n", "Euro. ", "ab! ", "ab ", "Das macht ", "Euro"])
            for _ in range(pick.randint(0, 30))
        )
        found = deck.found_in(" … ".join(parts), text)
        assert (found and (found.start(), found.end())) == with_lazy_gaps(parts, text), (
            parts,
            text,
        )


def test_a_phrase_with_many_gaps_is_looked_for_in_one_reading():
    """A word list entry of staff's with three gaps, "am … um … in … Uhr", froze a process for
    seconds with one helper question, and "a … a … a … zz" would for minutes (the attacker's
    recheck). In a process of its own, so that a search that runs on ends with it."""
    import subprocess
    import sys

    search = (
        "import django; django.setup(); from learning import deck; "
        "print(deck.found_in('a … a … a … zz', 'a ' * 500), "
        "deck.found_in('am … um … in … Uhr', 'am um in ' * 120))"
    )
    done = subprocess.run(
        [sys.executable, "-c", search], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["None", "None"]


def test_each_answer_says_when_the_card_comes_back(client, alice):
    """The learner chose Again, Hard, Good or Easy blind (a newcomer's walk)."""
    import re

    card = deck.keep(alice.pk, "die Kasse", "till")
    after = deck.next_after_each_answer(card)
    assert list(after) == ["again", "hard", "good", "easy"]
    client.force_login(alice)
    page = client.get("/review/").content.decode()
    shown = re.findall(
        r'value="(\w+)"[^>]*>\w+<span class="answer-after">'
        r'<span class="visually-hidden">, back in</span> ([^<]+)</span>',
        page,
    )
    assert shown == list(after.items())
    assert after["easy"].endswith(" d") and after["again"].endswith(" min")


@pytest.mark.parametrize("rating", ["again", "hard", "good"])
def test_after_an_answer_the_card_comes_back_when_its_button_said(client, alice, rating):
    """ "Hard · 6 min", then "The next card comes back in 5 min": 5½ minutes rounded, then
    5½ less the seconds since (a newcomer's walk)."""
    card = deck.keep(alice.pk, "die Kasse", "till")
    said = deck.next_after_each_answer(card)[rating]
    client.force_login(alice)
    page = client.post(f"/review/{card.pk}/", {"rating": rating}, follow=True).content.decode()
    assert f"The next card comes back in {said}." in page


@pytest.mark.parametrize(
    ("minutes", "label"),
    [
        (0.2, "1 min"),
        (10, "10 min"),
        (90, "2 h"),
        (60 * 24 * 3, "3 d"),
        (60 * 24 * 45, "2 mo"),
        (60 * 24 * 800, "2 y"),
    ],
)
def test_intervals_are_said_in_the_largest_whole_unit(minutes, label):
    assert deck.interval_label(timedelta(minutes=minutes)) == label


def test_a_report_word_is_kept_with_the_line_that_used_it(client, alice, marketplace):
    session = complete(start_session(alice, marketplace))
    line = "Zwei Brötchen, bitte. Und eine Tüte."
    word = {"german": "das Brötchen", "gloss": "bread roll", "line": line}
    with acting_as_staff():
        SceneReport.objects.create(
            session_id=session.pk, status="ready", kind="offline", content={"words": [word]}
        )
    client.force_login(alice)
    shown = client.get(f"/sessions/{session.pk}/report/").content.decode()
    assert f'name="example" value="{line}"' in shown


@pytest.mark.parametrize(
    ("kept", "look_alike"),
    [("guten Tag", "guten\u00a0Tag"), ("guten Tag", "guten  Tag"), ("geht's", "geht’s")],
)
def test_spaces_and_apostrophes_that_look_the_same_are_the_same_card(alice, kept, look_alike):
    """A no-break or double space, or the model's apostrophe, made another card (the
    attacker's recheck)."""
    deck.keep(alice.pk, kept)
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, look_alike)
    assert deck.which_kept(alice.pk, [look_alike]) == [True]


def test_a_long_run_of_marks_is_read_once(alice, monkeypatch):
    """Each mark of a run was a new try of the whole rest of the run: 250 ms a keep of 20
    words before 940 periods (the attacker's recheck). Counted in the pattern's tries."""
    line = "Wörter " + "." * 940 + " Ende."
    starts = [match.start() for match in deck.SENTENCE_END.finditer(line)]
    assert starts == [len("Wörter ")]  # one boundary for the run, found where it begins
    tries = []
    real = deck.sentence_holding
    monkeypatch.setattr(deck, "sentence_holding", lambda *args: tries.append(args) or real(*args))
    deck.keep(alice.pk, "Wörter", example=line)
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, "Wörter", example=line)
    assert len(tries) == 1  # not for a word the deck holds already


def test_keep_all_keeps_each_word_with_the_line_that_used_it(client, alice, marketplace):
    """Only a word kept alone got its line as its example (the UI recheck)."""
    session = complete(start_session(alice, marketplace))
    words = [
        {"german": "die Tomate", "gloss": "tomato", "line": "Ein Kilo Tomaten, bitte."},
        {"german": "die Erdbeere", "gloss": "strawberry", "line": "Was kosten die Erdbeeren?"},
        {"german": "der Markt", "gloss": "market"},  # a model report's word: no line
    ]
    with acting_as_staff():
        SceneReport.objects.create(
            session_id=session.pk, status="ready", kind="offline", content={"words": words}
        )
    client.force_login(alice)
    report = client.get(f"/sessions/{session.pk}/report/").content.decode()
    keep_all = report.split('<form method="post" action="/deck/keep/" class="keep-form"')[-1]
    fields = re.findall(r'name="(german|gloss|example)" value="([^"]*)"', keep_all)
    data = {
        name: [value for field, value in fields if field == name]
        for name in ("german", "gloss", "example")
    }
    keep(client, **data)
    kept = {card.german: card.example for card in deck.all_cards(alice.pk)}
    assert kept == {
        "die Tomate": "Ein Kilo Tomaten, bitte.",
        "die Erdbeere": "Was kosten die Erdbeeren?",
        "der Markt": "",
    }


def test_a_word_cut_to_a_cards_length_ends_in_no_space(alice):
    card = deck.keep(alice.pk, "\ufb00" * 149 + "a bc")  # each ligature two letters
    assert card.german == "ff" * 149 + "a"


def test_every_letter_of_another_script_drawn_like_a_latin_one_is_folded_once():
    """as_word twice is as_word once, for each letter Unicode's confusables map, also as
    composed (the attacker's recheck found nine Greek letters with an oxia folded only by a
    second pass)."""
    import sys
    import unicodedata

    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char)[0] != "L":
            continue
        word = "B" + char + "cker"
        once = deck.as_word(word)
        assert deck.as_word(once) == once, hex(code)


def test_a_line_that_cannot_be_kept_offers_no_keep(client, alice, marketplace):
    """An emoji alone, or a line holding U+FFFD, offered a Keep that always failed (the
    attacker's second recheck)."""
    from chat import conversations
    from tests.conftest import add_message

    session = conversations.start(alice.pk, marketplace)
    add_message(session, "user", "main", "👍")
    add_message(session, "scenario", "main", "Gern \ufffd geschehen.")
    client.force_login(alice)
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert page.count('“<span lang="de">') == 2  # the opening line's only: Keep, Keep words


def test_the_review_page_tells_how_to_fill_the_deck_only_while_it_is_empty(client, alice):
    client.force_login(alice)
    hint = "Keep words from your scene reports"
    assert hint in client.get("/review/").content.decode()
    card = deck.keep(alice.pk, "die Kasse", "till")
    answered = client.post(f"/review/{card.pk}/", {"rating": "easy"}, follow=True)
    assert "Nothing is due right now" in answered.content.decode()
    assert hint not in answered.content.decode()  # (it was said always: a newcomer's recheck)


def test_a_whole_line_kept_without_a_meaning_says_so_on_its_back_in_anki(client, alice):
    """Its back was empty: an Anki card with nothing to turn over to (the last note's left
    item). The review page says the same in its words."""
    deck.keep(alice.pk, "Was darf es sein?", example="Was darf es sein?")
    client.force_login(alice)
    lines = client.get("/deck/export.txt").content.decode().splitlines()
    assert lines[4:] == ['"Was darf es sein?"\t"(no meaning saved)"\t""']


ANSWER = (
    'Say "Ich hätte gern vier Brötchen." (I\'d like four bread rolls.) The plural of'
    " „das Brötchen“ is “die Brötchen”, as with every word in -chen."
)


def test_only_a_noun_is_one_card_with_its_article(client, alice):
    """A phrase of an article and any word was one card with the word: "Das stimmt" gave
    "stimmt" its meaning, "der Morgen" was the card "morgen" (tomorrow), and a line's "ist"
    was in the deck once "Das ist" was (the attacker's recheck)."""
    deck.keep(alice.pk, "stimmt")
    assert deck.keep(alice.pk, "Das stimmt", "That's right").gloss == "That's right"
    deck.keep(alice.pk, "morgen", "tomorrow")
    assert deck.keep(alice.pk, "der Morgen").german == "der Morgen"
    deck.keep(alice.pk, "Das ist", "That is")
    assert deck.kept_of(alice.pk, ["ist", "Morgen", "morgen", "das Stimmt", "essen"]) == {
        "Morgen",  # the noun "der Morgen" (at a sentence's start, "Morgen" may be tomorrow)
        "morgen",
        "das Stimmt",  # "Das stimmt" in any case
    }
    # Two articles, two nouns: the lake and the sea. Without one, it is either.
    deck.keep(alice.pk, "der See", "lake")
    assert deck.keep(alice.pk, "die See", "sea").gloss == "sea"
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, "See")
    assert deck.kept_of(alice.pk, ["das See", "See", "DIE SEE"]) == {"See", "DIE SEE"}
    assert {c.german: c.gloss for c in deck.all_cards(alice.pk)} == {
        "stimmt": "",
        "Das stimmt": "That's right",
        "morgen": "tomorrow",
        "der Morgen": "",
        "Das ist": "That is",
        "der See": "lake",
        "die See": "sea",
    }
    # The page's words of a line say the same (the reverse of a keep: "ist" was in the deck).
    client.force_login(alice)
    response = client.post("/deck/keep/", {"german": "ist", "name_it": "1"}, HTTP_HX_REQUEST="true")
    assert "Kept \u201eist\u201c" in response.content.decode()


def test_a_capital_that_opens_a_sentence_makes_no_noun(alice):
    """ "Morgen" kept from "Morgen habe ich frei." (tomorrow) got the meaning of "der Morgen"
    (the morning), as did "Essen" from "Essen wir zusammen?" that of "das Essen"; and of "die
    See" and "der See", both without a meaning, "See — lake" gave the older one its meaning
    (the attacker's second recheck)."""
    deck.keep(alice.pk, "Morgen", example="Morgen habe ich frei.")
    assert deck.keep(alice.pk, "der Morgen", "the morning").gloss == "the morning"
    deck.keep(alice.pk, "das Essen", "food")
    assert deck.keep(alice.pk, "Essen", "to eat", "Essen wir zusammen?").gloss == "to eat"
    # A line's words: a noun where its capital is not the sentence's.
    assert deck.kept_of(alice.pk, ["Essen"], "Essen wir? Ja.") == {"Essen"}  # as written
    assert deck.kept_of(alice.pk, ["Morgen"], "Morgen! Bis morgen.") == {"Morgen"}
    deck.remove(alice.pk, next(c.pk for c in deck.all_cards(alice.pk) if c.german == "Morgen"))
    assert deck.kept_of(alice.pk, ["Morgen"], "Morgen habe ich frei.") == set()
    assert deck.kept_of(alice.pk, ["Morgen"], "Guten Morgen! \u201eMorgen\u201c, sagt sie.") == {
        "Morgen"
    }
    deck.keep(alice.pk, "die See")
    deck.keep(alice.pk, "der See")
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, "See", "lake")
    meanings = {c.german: c.gloss for c in deck.all_cards(alice.pk)}
    assert meanings == {
        "der Morgen": "the morning",
        "das Essen": "food",
        "Essen": "to eat",
        "die See": "",
        "der See": "",
    }


def test_a_line_s_words_are_compared_with_the_deck_in_one_pass_of_its_index(alice):
    """deck_word_forms() was called for each card each word was compared with: 0.9 s for a
    line of 333 words and a deck of 2,000 (the attacker's recheck). The statement looks each
    word's forms up in the index on lower(german), as one join."""
    from django.db import connection

    from lib.rls import acting_as_learner

    words = [f"Wort{number}" for number in range(333)]
    statement, params = deck.kept_query(alice.pk, words)
    with acting_as_learner(alice.pk), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}", params)
        plan = [line for (line,) in cursor.fetchall()]
    compared = [line.split(":")[0].strip() for line in plan if "lower(" in line]
    assert compared and all(way in ("Hash Cond", "Merge Cond", "Index Cond") for way in compared)


def test_a_meaning_that_shows_nothing_is_refused_not_kept(client, alice):
    """Kept again with a meaning of invisible characters, a card had a meaning that showed
    nothing, and /deck/meaning/ refused the learner's own as given already (the attacker's
    recheck)."""
    client.force_login(alice)
    deck.keep(alice.pk, "Hund")
    refused = client.post("/deck/keep/", {"german": "der Hund", "gloss": "\u200b\u2060"})
    assert refused.status_code == 400
    assert "letters that show" in refused.content.decode()
    [card] = deck.all_cards(alice.pk)
    assert card.gloss == ""
    client.post("/deck/meaning/", {"card": str(card.pk), "meaning": "dog"})
    assert deck.all_cards(alice.pk)[0].gloss == "dog"
    # A meaning is kept as /deck/meaning/ keeps it: on one line.
    kept = deck.keep(alice.pk, "die Katze", "the\ncat ")
    assert kept.gloss == "the cat"


def test_a_word_kept_by_name_is_named_as_the_deck_holds_it(client, alice):
    """Named as sent ("der\u00a0Hund"), the page's copies of "der Hund" were not marked (the
    attacker's recheck)."""
    client.force_login(alice)
    response = client.post(
        "/deck/keep/", {"german": "der\u00a0 Hund", "name_it": "1"}, HTTP_HX_REQUEST="true"
    )
    assert "Kept \u201eder Hund\u201c" in response.content.decode()
    again = client.post("/deck/keep/", {"german": "Hund", "name_it": "1"}, HTTP_HX_REQUEST="true")
    assert "\u201eHund\u201c is in your deck" in again.content.decode()


def test_quotations_may_nest_or_be_single_and_a_words_part_is_no_phrase():
    """A "…" inside a „…“ ended it there, German single quotes made no quotation, and "-chen"
    was offered as a phrase to keep (the rechecks), as was an article alone (the last note)."""
    answer = 'Say „Er sagt "Hallo" zu mir“ or ‚eine Brezel‘; words in "-chen" take "das".'
    assert deck.quoted_phrases(answer) == [('Er sagt "Hallo" zu mir', ""), ("eine Brezel", "")]
    assert deck.quoted_phrases('"Einen" or "DER", "eine" and "dem" but "denen"') == [("denen", "")]
    # Nor a pronoun quoted as advice, without a meaning (a newcomer's walk).
    advice = 'Use „Sie“ with her, not "du" (informal you). Say „Sie sind“.'
    assert deck.quoted_phrases(advice) == [("du", "informal you"), ("Sie sind", "")]
    # An article is one however it is written (the attacker's recheck).
    written = 'take "d\u00adas", "das\u200b", "\uff44\uff41\uff53" or "D\u0430s"'
    assert deck.quoted_phrases(written) == []
    assert deck.german_of_answer("zu mir", answer)
    assert deck.german_of_answer("eine Brezel", answer)
    assert not deck.german_of_answer("words", answer)
    # A „ closed with a plain " (its “ dropped the rest of the answer in: the second recheck).
    typed = 'Say „Hallo" (hello) and „Tschüss" (bye). A roll is nice.'
    assert deck.quoted_phrases(typed) == [("Hallo", "hello"), ("Tschüss", "bye")]
    assert not deck.german_of_answer("roll", typed)


def test_a_helper_answers_phrases_are_what_it_quotes_with_their_glosses():
    assert deck.quoted_phrases(ANSWER) == [
        ("Ich hätte gern vier Brötchen.", "I'd like four bread rolls."),
        ("das Brötchen", ""),
        ("die Brötchen", ""),
    ]
    assert deck.quoted_phrases("Try a short sentence in German.") == []


def test_a_gloss_may_hold_brackets_of_its_own():
    answer = "„der Apfel (die Äpfel)“ (apple (apples)); „das Kilo“ (kilo)"
    assert deck.quoted_phrases(answer) == [
        ("der Apfel (die Äpfel)", "apple (apples)"),
        ("das Kilo", "kilo"),
    ]
    assert deck.quoted_phrases("„Hallo“ (hi (informal)") == [("Hallo", "")]  # never closed


def test_a_phrase_to_go_on_is_offered_without_its_dots_and_a_price_is_no_phrase():
    """ "Das macht …" was kept with its dots, meaning "That comes to …", and "3,50 €" was
    offered as a phrase (a newcomer's walk)."""
    answer = 'She says "Das macht …" (That comes to …): "3,50 €". Then „...bitte sehr“.'
    assert deck.quoted_phrases(answer) == [("Das macht", "That comes to"), ("bitte sehr", "")]
    assert deck.german_of_answer("Das macht", answer)
    # However many dots (the attacker's recheck); a full stop stays.
    for dots in ("....", "……", ". . .", "…."):
        assert deck.quoted_phrases(f'"Das macht {dots}"') == [("Das macht", "")], dots
    assert deck.quoted_phrases('"Gute Nacht."') == [("Gute Nacht.", "")]
    # An abbreviation's or an ordinal's dot before an ellipsis stays (the second recheck).
    for phrase, kept in [
        ("Das kostet ca. …", "Das kostet ca."),
        ("zum Beispiel z. B. …", "zum Beispiel z. B."),
        ("Frau Dr. ...", "Frau Dr."),
        ("am 3. …", "am 3."),
        ("am 3 …", "am 3"),
    ]:
        assert deck.quoted_phrases(f'"{phrase}"') == [(kept, "")], phrase


def test_brackets_that_say_where_or_how_a_phrase_is_used_are_not_its_meaning():
    """The bakery's tip glossed "Semmel" with "Bavaria, Austria" and "Brötchen" with
    "standard", "Tagen" with "dative plural": each was a card's meaning (the last note)."""
    tip = (
        'Bread rolls: "Br\u00f6tchen" (standard), "Semmel" (Bavaria, Austria), "Schrippe"'
        ' (Berlin). After "seit", "Tage" becomes "Tagen" (dative plural); "im" (= in dem).'
        ' "Prost!" (Cheers!) "du" (informal you), "Montag" (Monday), "ledig" (single).'
    )
    assert deck.quoted_phrases(tip) == [
        ("Br\u00f6tchen", ""),
        ("Semmel", ""),
        ("Schrippe", ""),
        ("seit", ""),
        ("Tage", ""),
        ("Tagen", ""),
        ("im", ""),
        ("Prost!", "Cheers!"),
    ]
    assert deck.quoted_phrases('"du" (informal you), "Montag" (Monday), "ledig" (single)') == [
        ("du", "informal you"),
        ("Montag", ""),  # a name-like word alone: its meaning is asked for, not guessed
        ("ledig", "single"),
    ]


@pytest.mark.parametrize(
    ("brackets", "meaning"),
    [  # the attacker's recheck: names beside labels, notes of where, short labels
        ("standard German", ""),
        ("Bavaria, informal", ""),
        ("informal; Bavaria", ""),
        ("in Bavaria", ""),
        ("southern Germany", ""),
        ("used in Austria", ""),
        ("short for in dem", ""),
        ("die", ""),
        ("f.", ""),
        ("pl.", ""),
        ("dat.", ""),
        ("coll.", ""),
        ("Hello", ""),  # a name, or the meaning: asked for rather than guessed
        ("\u202eevil", "evil"),  # no direction override in a card
        ("in", "in"),  # alone, a word of where may be what it means
        ("also", "also"),
        ("Bye!", "Bye!"),
        ("Thanks, you too!", "Thanks, you too!"),
        ("informal you", "informal you"),
        ("I'd like four bread rolls.", "I'd like four bread rolls."),
    ],
)
def test_what_brackets_after_a_phrase_say_it_means(brackets, meaning):
    assert deck.meaning_in_brackets(brackets) == meaning


@pytest.mark.parametrize(
    ("selected", "kept"),
    [
        ("vier Brötchen", True),  # within a quotation
        ("„das Brötchen“", True),  # with its quotes
        ("I'd like four bread rolls.", False),  # the gloss
        ("as with every word", False),  # the English around
        ("Brötchen", True),  # quoted, and in English too: taken as German
        ("as", False),  # a word of the English, though "as" is in "das" (the recheck)
        ("with", False),
        ("d like fo", False),  # a drag that cut the English's words (the second recheck)
        ("tte gern vi", True),  # ...and the German's
        ("Bröt", True),
    ],
)
def test_words_kept_from_a_helper_answer_must_be_its_quoted_german(client, alice, selected, kept):
    """English selected in a helper answer was kept as a German card (a newcomer's walk)."""
    client.force_login(alice)
    response = keep(client, german=selected, example=ANSWER, example_language="en")
    assert (response.status_code == 200) is kept
    if not kept:
        assert "Only the German the helper quotes can be kept" in response.content.decode()
        assert deck.all_cards(alice.pk) == []


def test_any_words_may_be_kept_from_a_helper_answer_that_quotes_nothing(client, alice):
    client.force_login(alice)
    answer = "Say: das Brötchen kostet 50 Cent."
    assert keep(client, german="Say: das", example=answer, example_language="en").status_code == 200


def test_the_deck_has_its_own_place_in_the_menu(client, alice):
    """Reached only through Review's "Your whole deck", under Review's mark (a newcomer's
    walk)."""
    client.force_login(alice)
    for page, current in (("/deck/", "Deck"), ("/review/", "Review"), ("/", "Practise")):
        body = client.get(page).content.decode()
        assert '<a href="/deck/"' in body
        assert re.findall(r'aria-current="page">(\w+)</a>', body) == [current]


def test_the_deck_page_says_which_cards_are_due_now(client, alice):
    """A card due now and one due in ten minutes both read "next 5 Dec" (a newcomer's walk)."""
    deck.keep(alice.pk, "das Brot")
    soon, later = deck.keep(alice.pk, "der Kuchen"), deck.keep(alice.pk, "die Semmel")
    with acting_as_staff():
        Card.objects.filter(pk=later.pk).update(due=later.due + timedelta(days=3))
        Card.objects.filter(pk=soon.pk).update(due=soon.due + timedelta(minutes=9, seconds=50))
    client.force_login(alice)
    items = re.findall(
        r'<li class="deck-card" id="card-.*?</li>', client.get("/deck/").content.decode(), re.S
    )
    assert "due now" in items[0] and "Brot" in items[0]
    # As the answer buttons say it, not "next 6 Dec", nor Django's "9 minutes" rounded down.
    assert "next in 10 min" in items[1] and "Kuchen" in items[1]
    assert "due now" not in items[2] and "next " in items[2] and "next in" not in items[2]


def test_a_removed_card_can_be_put_back_as_it_was(client, alice, marketplace):
    """Remove deleted a card with its reviews at a click, with no way back (a newcomer's
    walk)."""
    card = deck.keep(alice.pk, "die Schale", "punnet", "Eine Schale, bitte.", marketplace.pk)
    reviewed = deck.review(alice.pk, card.pk, "good").card
    client.force_login(alice)
    page = client.post("/deck/remove/", {"card": str(card.pk)}, follow=True).content.decode()
    assert deck.all_cards(alice.pk) == []
    assert 'Removed „<span lang="de">die Schale</span>“ and its 1 review.' in page
    assert 'action="/deck/put-back/"' in page

    page = client.post("/deck/put-back/", {"card": str(card.pk)}, follow=True).content.decode()
    assert "Put back „die Schale“." in page
    # The focus goes to the card put back, not to the page's top (the last note).
    assert f'<li class="deck-card" id="card-{card.pk}" tabindex="-1" autofocus>' in page
    [back] = deck.all_cards(alice.pk)
    assert (back.pk, back.german, back.gloss, back.example, back.scenario_id) == (
        card.pk,
        "die Schale",
        "punnet",
        "Eine Schale, bitte.",
        marketplace.pk,
    )
    assert (back.due, back.reviews, back.fsrs) == (reviewed.due, 1, reviewed.fsrs)
    # Once: a second Undo (another tab, a resent form) says the card is back (it said "can no
    # longer be put back", with the card in the list below: a newcomer's walk).
    page = client.post("/deck/put-back/", {"card": str(card.pk)}, follow=True).content.decode()
    assert "„die Schale“ is in your deck again already." in page
    assert len(deck.all_cards(alice.pk)) == 1


def test_each_card_removed_lately_can_be_put_back(client, alice):
    """Only the last removed was offered: one removed before it could not be had back (a
    newcomer's walk)."""
    apple, pear = deck.keep(alice.pk, "der Apfel"), deck.keep(alice.pk, "die Birne", "pear")
    client.force_login(alice)
    client.post("/deck/remove/", {"card": str(apple.pk)})
    page = client.post("/deck/remove/", {"card": str(pear.pk)}, follow=True).content.decode()
    top, lately = page.split('id="removed-lately-title"')
    assert 'Removed „<span lang="de">die Birne</span>“.' in top and "der Apfel" not in top
    assert "der Apfel" in lately and f'value="{apple.pk}"' in lately and "Birne" not in lately
    assert "der Apfel" in client.get("/deck/").content.decode()  # offered on a visit too
    client.post("/deck/put-back/", {"card": str(apple.pk)})
    assert [c.german for c in deck.all_cards(alice.pk)] == ["der Apfel"]


def test_undo_puts_back_the_card_it_names_when_another_tab_removed_one_since(client, alice):
    """Undo put back whichever card was removed last, in any tab (the attacker's recheck)."""
    apple, pear = deck.keep(alice.pk, "der Apfel"), deck.keep(alice.pk, "die Birne")
    client.force_login(alice)
    client.post("/deck/remove/", {"card": str(apple.pk)})
    client.post("/deck/remove/", {"card": str(pear.pk)})  # the other tab
    page = client.post("/deck/put-back/", {"card": str(apple.pk)}, follow=True).content.decode()
    assert "Put back „der Apfel“." in page
    assert [c.german for c in deck.all_cards(alice.pk)] == ["der Apfel"]
    client.post("/deck/put-back/", {"card": str(pear.pk)})
    assert len(deck.all_cards(alice.pk)) == 2


def test_a_card_that_found_the_deck_full_can_be_put_back_once_there_is_room(
    client, alice, settings, monkeypatch
):
    """Refused for a full deck, it was gone for good (the attacker's recheck)."""
    monkeypatch.setattr(deck, "MAX_CARDS", 2)
    plum, other = deck.keep(alice.pk, "die Pflaume"), deck.keep(alice.pk, "die Mango")
    client.force_login(alice)
    client.post("/deck/remove/", {"card": str(plum.pk)})
    deck.keep(alice.pk, "die Kiwi")  # full again
    page = client.post("/deck/put-back/", {"card": str(plum.pk)}, follow=True).content.decode()
    assert "Your deck holds 2 cards" in page and 'name="card" value="' + str(plum.pk) in page
    deck.remove(alice.pk, other.pk)
    client.post("/deck/put-back/", {"card": str(plum.pk)})
    assert sorted(c.german for c in deck.all_cards(alice.pk)) == ["die Kiwi", "die Pflaume"]


def test_a_removed_card_kept_again_meanwhile_is_not_put_back_twice(client, alice):
    card = deck.keep(alice.pk, "das Brot")
    client.force_login(alice)
    client.post("/deck/remove/", {"card": str(card.pk)})
    deck.keep(alice.pk, "Das Brot")
    page = client.post("/deck/put-back/", {"card": str(card.pk)}, follow=True).content.decode()
    assert "„das Brot“ is in your deck again already." in page
    assert [c.german for c in deck.all_cards(alice.pk)] == ["Das Brot"]


def test_two_tabs_removing_at_once_can_each_undo_theirs(client, alice, monkeypatch):
    """Each request saved the login's session as it had read it, before the other tab's
    removal: one of the two Undos said "can no longer be put back" (the last note's race)."""
    apple, pear = deck.keep(alice.pk, "der Apfel"), deck.keep(alice.pk, "die Birne")
    client.force_login(alice)
    other_tab = Client()
    other_tab.cookies = client.cookies
    remove = deck.remove

    def remove_while_the_other_tab_removes(learner_id, card_id):
        if card_id == apple.pk:  # this tab has read the session; the other removes now
            assert other_tab.post("/deck/remove/", {"card": str(pear.pk)}).status_code == 302
        return remove(learner_id, card_id)

    monkeypatch.setattr(deck, "remove", remove_while_the_other_tab_removes)
    client.post("/deck/remove/", {"card": str(apple.pk)})
    for card in (pear, apple):
        page = client.post("/deck/put-back/", {"card": str(card.pk)}, follow=True)
        assert f"Put back „{card.german}“." in page.content.decode()
    assert [c.german for c in deck.all_cards(alice.pk)] == ["der Apfel", "die Birne"]


def test_another_learner_cannot_see_or_put_back_a_removed_card(client, alice, bob):
    card = deck.keep(alice.pk, "die Gurke", "cucumber")
    deck.remove(alice.pk, card.pk)
    client.force_login(bob)
    assert "Gurke" not in client.get(f"/deck/?removed={card.pk}").content.decode()
    page = client.post("/deck/put-back/", {"card": str(card.pk)}, follow=True).content.decode()
    assert "That card can no longer be put back." in page
    assert deck.all_cards(bob.pk) == []
    with acting_as_learner(bob.pk):
        assert not RemovedCard.objects.exists()
    with pytest.raises(DatabaseError, match="permission denied"), acting_as_learner(alice.pk):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE deck_removed_cards SET user_id = user_id")
    with acting_as_learner(alice.pk):
        assert RemovedCard.objects.count() == 1


def test_undo_holds_the_last_ten_removed_for_a_day(client, alice):
    cards = [deck.keep(alice.pk, f"das Wort{n}") for n in range(12)]
    for card in cards:
        deck.remove(alice.pk, card.pk)
    with acting_as_learner(alice.pk):
        assert RemovedCard.objects.count() == 10
    lately = [card["german"] for card in deck.removed_lately(alice.pk)]
    assert lately == [f"das Wort{n}" for n in range(11, 1, -1)]  # the last removed first
    with acting_as_staff():
        RemovedCard.objects.filter(card_id=cards[2].pk).update(
            removed_at=timezone.now() - timedelta(days=1, minutes=1)
        )
    client.force_login(alice)
    assert "Wort2" not in client.get(f"/deck/?removed={cards[2].pk}").content.decode()
    page = client.post("/deck/put-back/", {"card": str(cards[2].pk)}, follow=True)
    assert "That card can no longer be put back." in page.content.decode()
    deck.remove(alice.pk, deck.keep(alice.pk, "das Wort99").pk)  # forgets the day-old one
    with acting_as_learner(alice.pk):
        assert not RemovedCard.objects.filter(card_id=cards[2].pk).exists()


def _race(calls, holder, *, holder_commits: bool = True) -> list:
    """Each call in a thread of its own, started in turn once the one before waits for a lock
    (`holder`'s, or one a call before holds) or has ended; then the holder's transaction ends.
    What each returned or raised, in the order they ended."""
    outcomes: list = []

    def run(call):
        try:
            outcomes.append(call())
        except Exception as error:  # examined by the test
            outcomes.append(error)
        finally:
            connection.close()

    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND cardinality(pg_blocking_pids(pid)) > 0"
    )
    racers: list[threading.Thread] = []
    with raw_connection() as watcher:
        watcher.autocommit = True  # pg_stat_activity is a snapshot per transaction
        for call in calls:
            racers.append(threading.Thread(target=run, args=(call,)))
            racers[-1].start()
            alive = lambda: sum(racer.is_alive() for racer in racers)  # noqa: E731
            while racers[-1].is_alive() and watcher.execute(waiting).fetchone()[0] < alive():
                pass
    holder.commit() if holder_commits else holder.rollback()
    for racer in racers:
        racer.join(timeout=10)
    assert not any(racer.is_alive() for racer in racers)
    return outcomes


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_card_removed_while_another_tab_answers_it_comes_back_answered(alice):
    """Read unlocked, it was deleted after the answer committed, and Undo put back the card
    as it was before the answer (the attacker's replay: 15 of 20 rounds)."""
    card = deck.keep(alice.pk, "die Waage", "scales")
    with raw_connection() as answering:
        answering.execute("SET ROLE maraum_staff")
        answering.execute("UPDATE deck_cards SET reviews = 4 WHERE id = %s", [card.pk])
        [removed] = _race([partial(deck.remove, alice.pk, card.pk)], answering)
    assert removed["reviews"] == 4
    assert deck.put_back(alice.pk, card.pk)["reviews"] == 4
    assert [c.reviews for c in deck.all_cards(alice.pk)] == [4]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_tabs_putting_back_at_once_do_not_overfill_the_deck(alice, monkeypatch):
    """Each counted room for one more: 2,010 cards in a deck of at most 2,000 (the attacker's
    replay)."""
    monkeypatch.setattr(deck, "MAX_CARDS", 3)
    apple, pear = deck.keep(alice.pk, "der Apfel"), deck.keep(alice.pk, "die Birne")
    deck.remove(alice.pk, apple.pk), deck.remove(alice.pk, pear.pk)
    deck.keep(alice.pk, "die Kiwi"), deck.keep(alice.pk, "die Mango")  # room for one
    with raw_connection() as holder:  # both count the deck before either lets go its card
        holder.execute("SET ROLE maraum_staff")
        holder.execute(
            "SELECT 1 FROM deck_removed_cards WHERE card_id IN (%s, %s) FOR UPDATE",
            [apple.pk, pear.pk],
        )
        outcomes = _race([partial(deck.put_back, alice.pk, c.pk) for c in (apple, pear)], holder)
    assert len(deck.all_cards(alice.pk)) == 3
    assert sorted(type(o).__name__ for o in outcomes) == ["DeckFull", "dict"]


@pytest.mark.parametrize("words", [["ʼ"], ["das Hallo", " ʼʼ "]])
def test_a_letter_the_deck_holds_as_an_apostrophe_is_nothing_to_keep(client, alice, words):
    """U+02BC is a letter, kept as an apostrophe: a 500 (the attacker's replay)."""
    client.force_login(alice)
    response = keep(client, german=words)
    assert response.status_code == 400 and b"letters or numbers" in response.content
    assert deck.all_cards(alice.pk) == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_word_kept_while_another_tab_puts_it_back_is_found_without_a_failing_insert(alice):
    """It was asked before the deck was locked: the insert failed, and a server logging
    failing statements logged the word (the attacker's replay)."""
    card = deck.keep(alice.pk, "Bäcker")
    deck.remove(alice.pk, card.pk)
    with raw_connection() as holder:  # the put-back waits here, with the deck locked
        holder.execute("SET ROLE maraum_staff")
        holder.execute("SELECT 1 FROM deck_removed_cards WHERE card_id = %s FOR UPDATE", [card.pk])
        outcomes = _race(
            [partial(deck.put_back, alice.pk, card.pk), partial(deck.keep, alice.pk, "bäcker")],
            holder,
        )
    [refused] = [o for o in outcomes if isinstance(o, Exception)]
    assert isinstance(refused, deck.AlreadyKept) and refused.__cause__ is None
    assert [c.german for c in deck.all_cards(alice.pk)] == ["Bäcker"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_removal_and_the_accounts_deletion_at_once_do_not_deadlock(alice):
    """The removal locked its card, then referred to the profile the deletion had locked,
    whose cascade waited for the card: "deadlock detected" (the attacker's recheck)."""
    card = deck.keep(alice.pk, "der Abschied")
    with raw_connection() as holder:  # the removal waits here, before it refers to the profile
        holder.execute("SET ROLE maraum_staff")
        holder.execute(
            "INSERT INTO deck_removed_cards (card_id, user_id, card) VALUES (%s, %s, '{}')",
            [card.pk, alice.pk],
        )
        outcomes = _race(
            [partial(deck.remove, alice.pk, card.pk), partial(delete_account, alice)],
            holder,
            holder_commits=False,
        )
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with acting_as_staff():
        assert not Card.objects.exists() and not RemovedCard.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_meanings_given_as_the_account_goes_do_not_deadlock(alice):
    """The worker gave meanings card by card in the model's order, the deletion deleted the
    cards in its own: "deadlock detected", and the account stayed (the attacker's recheck)."""
    cards = [deck.keep(alice.pk, f"das Wort{n}") for n in range(5)]
    first_given, go_on = threading.Event(), threading.Event()

    def pause_after_the_first(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("UPDATE") and not first_given.is_set():
            first_given.set()
            go_on.wait(10)
        return result

    def give_meanings():
        with connection.execute_wrapper(pause_after_the_first):
            return deck.add_glosses(alice.pk, {str(cards[-1].pk): "4", str(cards[0].pk): "0"})

    outcomes: list = []

    def run(call):
        try:
            outcomes.append(call())
        except Exception as error:  # examined below
            outcomes.append(error)
        finally:
            connection.close()

    giving = threading.Thread(target=run, args=(give_meanings,))
    deleting = threading.Thread(target=run, args=(partial(delete_account, alice),))
    giving.start()
    assert first_given.wait(10)
    deleting.start()
    with raw_connection() as watcher:
        watcher.autocommit = True
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND cardinality(pg_blocking_pids(pid)) > 0"
        )
        while deleting.is_alive() and not watcher.execute(waiting).fetchone()[0]:
            pass
    go_on.set()
    for thread in (giving, deleting):
        thread.join(timeout=10)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with acting_as_staff():
        assert not Card.objects.exists()


def test_a_card_names_a_scene_learners_see_or_one_they_played(client, alice, kiosk):
    """Any scene's id was taken: a staff draft's title showed in the deck (the attacker's
    recheck)."""
    Scenario.objects.filter(pk=kiosk.pk).update(is_active=False)
    client.force_login(alice)
    refused = keep(client, german="die Zeitung", scenario=str(kiosk.pk))
    assert refused.status_code == 400 and b"Unknown scene." in refused.content
    start_session(alice, kiosk)  # played before it was put away
    assert keep(client, german="die Zeitung", scenario=str(kiosk.pk)).status_code == 200
    assert [card.scenario_id for card in deck.all_cards(alice.pk)] == [kiosk.pk]


@pytest.mark.parametrize("how", ["keep", "put_back"])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_card_whose_scene_goes_as_it_is_stored_is_stored_without_it(alice, kiosk, how):
    """The scene was checked at commit: a keep failed there (a 500), and an Undo too (the
    attacker's recheck). Then it was learnt from the insert failing, which a server may log
    with the word and its line (the attacker's replay): no statement fails."""
    if how == "put_back":
        card = deck.keep(alice.pk, "die Zeitung", scenario_id=kiosk.pk)
        deck.remove(alice.pk, card.pk)
        storing = partial(deck.put_back, alice.pk, card.pk)
    else:
        storing = partial(deck.keep, alice.pk, "die Zeitung", scenario_id=kiosk.pk)
    failed: list[str] = []

    def call():
        with failing_statements() as failing:
            try:
                return storing()
            finally:
                failed.extend(failing)

    with raw_connection() as holder:  # staff delete the scene as the card is stored
        holder.execute("SET ROLE maraum_staff")
        holder.execute("DELETE FROM scenario_goals WHERE scenario_id = %s", [kiosk.pk])
        holder.execute("DELETE FROM scenarios WHERE id = %s", [kiosk.pk])
        [outcome] = _race([call], holder)
    assert not isinstance(outcome, Exception), outcome
    assert [(c.german, c.scenario_id) for c in deck.all_cards(alice.pk)] == [("die Zeitung", None)]
    assert failed == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_keep_that_waited_for_the_accounts_deletion_keeps_nothing(alice):
    """The keep waited for the deck the deletion held, then counted no cards, inserted one for
    the deleted account, and a server that logs failing statements logged the learner's word;
    the page said "In your deck" (the attacker's replay: 5 of 6 keeps a run)."""

    def keep_recording_failures():
        with failing_statements() as failed:
            try:
                return deck.keep(alice.pk, "das Geheimwort", "secret word", "Das Geheimwort.")
            finally:
                assert failed == []

    with raw_connection() as deleting:  # the deletion, its deck locked by its trigger
        deleting.execute("DELETE FROM accounts_user WHERE id = %s", [alice.pk])
        [outcome] = _race([keep_recording_failures], deleting)
    assert isinstance(outcome, deck.AccountGone), outcome
    with acting_as_staff():
        assert not Card.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_keep_racing_the_accounts_deletion_says_nothing_was_kept(alice):
    client = Client()
    client.force_login(alice)

    def keep():
        form = {"german": "das Geheimwort", "gloss": "secret word"}
        return client.post("/deck/keep/", form, headers={"HX-Request": "true"})

    with raw_connection() as deleting:
        deleting.execute("DELETE FROM accounts_user WHERE id = %s", [alice.pk])
        [answer] = _race([keep], deleting)
    said = answer.content.decode()
    assert (answer.status_code, said) == (
        410,
        "This account has just been deleted: nothing was kept.",
    )


def test_a_word_kept_in_a_scene_takes_the_meaning_its_word_list_gives(alice, marketplace):
    """ "Kilo" and "Äpfel" kept from a line had no meaning offline, and review said "No
    meaning saved", beside a report saying "das Kilo — kilo · In your deck ✓" (a newcomer's
    recheck)."""
    kept = {
        word: deck.keep(alice.pk, word, scenario_id=marketplace.pk).gloss
        for word in ("Kilo", "Äpfel", "die Tomate", "Erdbeeren", "ein Kilo Tomaten", "frisches")
    }
    assert kept == {
        "Kilo": "kilo",
        "Äpfel": "apple (apples)",
        "die Tomate": "tomato",
        "Erdbeeren": "",  # not "strawberry": a form the list does not write
        "ein Kilo Tomaten": "",  # a phrase holding a listed word is not that word
        "frisches": "",
    }
    assert deck.keep(alice.pk, "die Erdbeere", "a berry", scenario_id=marketplace.pk).gloss == (
        "a berry"  # the learner's own
    )
    assert deck.keep(alice.pk, "die Kartoffel").gloss == ""  # kept in no scene


def test_a_phrase_to_go_on_is_one_card_with_its_dots_or_without(alice):
    """The helper's "Ich hätte gern" (kept without its dots) and the report's "Ich hätte gern …"
    (the scene's word list) were two cards, both due, and the report offered the phrase as
    not in the deck (a newcomer's walk)."""
    deck.keep(alice.pk, "Ich hätte gern", "I'd like")
    assert deck.kept_of(alice.pk, ["Ich hätte gern …", "Ich hätte gern...", "Ich hätte"]) == {
        "Ich hätte gern …",
        "Ich hätte gern...",
    }
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, "Ich hätte gern …", "I'd like …")
    deck.keep(alice.pk, "Das macht …", "That comes to …")
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, "das macht")
    deck.keep(alice.pk, "Wie bitte...")  # typed with three dots (the attacker's recheck)
    with pytest.raises(deck.AlreadyKept):
        deck.keep(alice.pk, "Wie bitte")
    assert sorted(card.german for card in deck.all_cards(alice.pk)) == [
        "Das macht …",
        "Ich hätte gern",
        "Wie bitte...",
    ]


def test_a_card_comes_back_in_the_days_its_button_said(alice):
    """ "Easy · 8 d", and the five cards answered so came back in 7 to 10 days: FSRS's fuzz
    moved each at random after the button had said (a newcomer's recheck)."""
    for index in range(20):
        card = deck.keep(alice.pk, f"das Wort {index}", "a word")
        when = datetime.now(UTC)
        said = deck.next_after_each_answer(card, at=when)["easy"]
        answered = deck.review(alice.pk, card.pk, "easy", at=when).card
        assert said.endswith(" d")
        assert deck.interval_label(answered.due - when) == said


@pytest.mark.parametrize(
    ("line", "offered"),
    [
        (
            "Entschuldigung, ich spreche kein Englisch. Auf Deutsch, bitte!",
            ["Entschuldigung", "ich", "spreche", "kein", "Englisch", "auf", "Deutsch", "bitte"],
        ),
        (
            "Sie kommen wegen der Wohnung? „Ja, genau.“",
            ["Sie", "kommen", "wegen", "der", "Wohnung", "ja", "genau"],
        ),
        ("Brot? Ja. Brot ist gut.", ["Brot", "ja", "ist", "gut"]),
    ],
)
def test_a_line_offers_a_small_word_small_at_a_sentences_start(line, offered):
    """ "Keep words" offered „Auf“ of "Auf Deutsch, bitte!", a card with a capital no German
    writes it with (a newcomer's walk); a noun keeps its capital, and so does "Sie"."""
    assert deck.words_of(line) == offered
