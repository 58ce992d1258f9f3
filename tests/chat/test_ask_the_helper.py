"""Corrections on demand and explanations: "Check my German" on a learner's line and
"Explain" on the character's ask the helper, in the helper chat, through the same path and
limits as any question; the role-play never stops."""

import pytest
from channels.db import database_sync_to_async

from tests.chat.conftest import FINISHED, Tab, chat_db, settle, stored
from tests.support.fake_anthropic import PlannedResponse

pytestmark = chat_db


async def test_check_my_german_is_a_helper_question_and_the_role_play_goes_on(
    alice, alice_session, fake_anthropic
):
    fake_anthropic.enqueue(
        PlannedResponse(text="Gern! Was darf es sein?"),
        PlannedResponse(text="Better: „Ich hätte gern ein Kilo Tomaten.“ The verb was right."),
        PlannedResponse(text="Zwei Euro, bitte."),
    )
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Ich will ein Kilo Tomaten.")
    assert 'data-ask="Explain this line"' in await tab.until(FINISHED)
    await tab.send(chat="helper", message="Check my German: „Ich will ein Kilo Tomaten.“")
    await tab.until(FINISHED)
    await tab.send(message="Was kostet das?")  # the role-play goes on at once
    await tab.until(FINISHED)
    await settle()
    await tab.close()
    helper_request = fake_anthropic.requests[1].body
    assert "tools" not in helper_request  # the helper's own call
    assert "Check my German: „Ich will" in str(helper_request["messages"][-1])
    main = [content for _, content in await stored(alice_session.pk, "main")]
    assert main[-2:] == ["Was kostet das?", "Zwei Euro, bitte."]
    assert (await stored(alice_session.pk, "helper"))[-1][1].startswith("Better:")


@pytest.mark.parametrize(
    "asked, said",
    [
        # "this line" of the character's, "your line" of the learner's (a newcomer's walk).
        ("Explain this line: „Was darf es sein?“", "cannot read this line"),
        ("Check my German: „Ich bin hier.“", "cannot read your line"),
        ("What does 'Ofen' mean?", "cannot read your question"),  # said too (a newcomer's walk)
    ],
)
async def test_offline_the_helper_says_it_cannot_read_what_it_was_asked(
    alice, alice_session, offline, asked, said
):
    answer = await helper_answer(alice, alice_session, asked)
    assert answer.startswith(f"(Offline mode: without the model I {said}, so here is a tip")


async def helper_answer(learner, session, asked: str) -> str:
    tab = Tab(learner, session.pk)
    await tab.connect()
    await tab.send(chat="helper", message=asked)
    await tab.until(FINISHED)
    await settle()
    await tab.close()
    return (await stored(session.pk, "helper"))[-1][1]


@pytest.mark.parametrize(
    "asked, said, listed",
    [
        (
            "What do 'Kilo' and 'Äpfel' mean?",
            "cannot read your question, but this is what the scene's word list says",
            [("das Kilo", "kilo"), ("der Apfel (die Äpfel)", "apple (apples)")],
        ),
        (  # typed without umlauts (a newcomer's recheck)
            "What are Aepfel?",
            "cannot read your question, but this is what the scene's word list says",
            [("der Apfel (die Äpfel)", "apple (apples)")],
        ),
        (
            "Explain this line: „Möchten Sie Erdbeeren oder Tomaten?“",
            "cannot read this line, but this is what the scene's word list says",
            [("die Erdbeere", "strawberry"), ("die Tomate", "tomato")],
        ),
    ],
)
async def test_offline_the_helper_gives_the_word_lists_meanings_of_the_words_asked_about(
    alice, alice_session, offline, asked, said, listed
):
    """Offline, "What does 'Kilo' mean?" got the next tip, although the scene's word list
    says (the last note's left item). The meanings are quoted as the model quotes them, so
    "Keep a phrase" offers each with its meaning."""
    from learning import deck
    from learning.deck import quoted_phrases

    answer = await helper_answer(alice, alice_session, asked)
    assert answer.startswith(f"(Offline mode: without the model I {said}")
    assert quoted_phrases(answer) == listed  # in the order asked about
    # A word kept from it has no example: it would be the list (or the word) again.
    german, gloss = listed[0]
    card = await database_sync_to_async(deck.keep)(
        alice.pk, german, gloss, example=answer, example_language="en"
    )
    assert (card.german, card.gloss, card.example) == (german, gloss, "")


def test_a_word_lists_quotes_and_line_breaks_make_no_phrase_of_their_own():
    """A gloss of staff's holding „…“ was offered as a phrase of its own to keep, and one
    holding a line break gave the next word its meaning (the attacker's recheck)."""
    from chat.providers.base import ReplyRequest
    from chat.providers.offline import _helper_answer
    from learning.deck import quoted_phrases

    request = ReplyRequest(
        chat="helper",
        scenario_code="kiosk",
        system=[],
        messages=[],
        turn=1,
        learner_text="Tüte, Hund, Kasse und duzen?",
        vocabulary=(
            ("die Tüte", "bag) „das Geld“ (money"),
            ("der Hund", "dog\n„die Kasse“ (cat"),
            ("die Kasse", "till"),
            ("duzen", 'to say "du" to someone'),
        ),
    )
    assert quoted_phrases(_helper_answer(request)) == [
        ("die Tüte", "bag"),  # "das Geld" is no phrase of its own
        ("der Hund", ""),  # a gloss that is no meaning is none
        ("die Kasse", "till"),  # not "cat"
        ("duzen", "to say 'du' to someone"),  # its quotes kept (a newcomer's recheck)
    ]


def test_every_role_play_line_offers_its_question(client, alice, alice_session):
    from tests.conftest import add_message

    add_message(alice_session, "user", "main", "Ich will Tomaten.")
    client.force_login(alice)
    body = client.get(f"/sessions/{alice_session.pk}/").content.decode()
    assert body.count('data-ask="Check my German"') == 1  # the learner's line
    assert body.count('data-ask="Explain this line"') == 1  # the character's opener
    # The helper chat is English around the German: only selected words may be kept from it,
    # and only from the helper's answers, not the learner's own questions. Its welcome quotes
    # phrases, which its Keep offers while nothing is selected ("Keep selection" hid them).
    assert body.count("data-needs-selection") == 1 and ">Keep a phrase</button>" in body
    add_message(alice_session, "user", "helper", "What does Tomaten mean?")
    body = client.get(f"/sessions/{alice_session.pk}/").content.decode()
    assert body.count("data-needs-selection") == 1
