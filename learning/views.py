from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from learning import deck
from learning.models import Card
from lib.ids import parse_uuid
from lib.redirects import page_on_this_site
from lib.rls import acting_as_learner
from lib.text import unprintable

NOTHING_TO_KEEP = "Choose a word: letters or numbers, not only spaces."
CANNOT_BE_KEPT = "That contains characters that cannot be kept."
ACCOUNT_GONE = "This account has just been deleted: nothing was kept."
NOT_IN_LINE = (
    "Those words are not side by side in one sentence of this line: type them as it has them."
)
ANSWERED_ALREADY = "That card was answered already (in another tab?): this answer did not count."
CARD_GONE = (
    "That card is no longer in your deck (removed in another tab?): this answer was not kept."
)
# Words outside the answer's quotations may be German it did not quote (a shipped tip's "Döner
# im Brot"): called "the helper's English", they were refused as what they are not (a
# newcomer's walk).
ENGLISH_AROUND = (
    "Only the German the helper quotes can be kept from its answer: select words within its"
    " quotes, or clear the selection and choose one of its phrases with Keep a phrase."
)
EXPORTS = ("csv", "txt")


@login_required
@require_POST
def keep(request: HttpRequest) -> HttpResponse:
    """Keep a word or a line: from the report, a message or a helper answer (htmx: the button
    becomes "Kept")."""
    words = request.POST.getlist("german")
    glosses = request.POST.getlist("gloss") + [""] * len(words)
    longest, most = deck.MAX_WORD_LENGTH, deck.MAX_WORDS_PER_KEEP
    if words and any(not word.strip() for word in words):  # spaces were "at most 300 characters"
        return HttpResponseBadRequest(NOTHING_TO_KEEP)
    if not words or len(words) > most or any(len(word) > longest for word in words):
        return HttpResponseBadRequest(f"Choose a word or a line of at most {longest} characters.")
    # One example for all the words (a line's), or one for each (a report's "Keep all": each
    # word with the learner's line that used it).
    examples = request.POST.getlist("example") or [""]
    if len(examples) != len(words):
        examples = examples[:1] * len(words)
    too_long = any(len(example) > deck.MAX_EXAMPLE_LENGTH for example in examples)
    if any(len(gloss) > longest for gloss in glosses) or too_long:
        return HttpResponseBadRequest(
            f"A meaning may have at most {longest} characters,"
            f" its line at most {deck.MAX_EXAMPLE_LENGTH}."
        )
    # U+FFFD: what Django makes of bytes that are not UTF-8 (a form the browser did not send).
    # Not in an example, a chat line as stored: a line holding one (pasted so) was an example
    # no word of it could be kept with, nor a report's word used in it (the attacker's replay).
    unreadable = any("\ufffd" in text for text in [*words, *glosses])
    if unreadable or any(unprintable(text) for text in [*words, *glosses, *examples]):
        return HttpResponseBadRequest(CANNOT_BE_KEPT)
    searched = 0  # keeps the request paid for a search of its line
    if request.POST.get("in_line"):  # typed under a line's words: kept as the line has them
        if len(words) != 1:
            return HttpResponseBadRequest("Type the words of one line at a time.")
        # A search of the line costs a keep, the request's own, whatever comes of it: refusals
        # were free, and each may search a long line (the attacker's rechecks).
        with acting_as_learner(request.user.pk):
            verdict = deck.KEEPS.take(request.user.pk)
        if not verdict.allowed:
            return _keeping_too_quickly(verdict)
        searched = 1
        words = [deck.words_in_line(words[0], examples[0]) or ""]
        if not words[0]:
            return HttpResponseBadRequest(NOT_IN_LINE)
        if len(words[0]) > longest:  # the line's commas and dashes too
            return HttpResponseBadRequest(f"Choose at most {longest} characters of the line.")
        if "\ufffd" in words[0]:  # the line's, between the words: "not only spaces" said
            return HttpResponseBadRequest(CANNOT_BE_KEPT)  # (the attacker's recheck)
    if not all(deck.keepable(word) for word in words):  # before any is kept
        return HttpResponseBadRequest(NOTHING_TO_KEEP)
    try:
        glosses = [deck.as_meaning(gloss) for gloss in glosses]
    except ValueError as refused:
        return HttpResponseBadRequest(str(refused))
    # A word repeated in one request is kept (and checked) once: twenty copies cost twenty
    # times the work and one keep (the attacker's replay).
    once: dict[str, tuple[str, str, str]] = {}
    for word, gloss, example in zip(words, glosses, examples, strict=False):
        once.setdefault(deck.as_word(word).lower(), (word, gloss, example))  # the first of each
    words, glosses, examples = (list(column) for column in zip(*once.values(), strict=True))
    example_language = "en" if request.POST.get("example_language") == "en" else "de"
    if example_language == "en" and not all(
        deck.german_of_answer(word, example) for word, example in zip(words, examples, strict=True)
    ):
        return HttpResponseBadRequest(ENGLISH_AROUND)
    scenario_id = request.POST.get("scenario") or None
    if scenario_id is not None:
        known = scenario_id.isascii() and scenario_id.isdigit() and len(scenario_id) < 10
        if not (known and deck.may_name_scene(request.user.pk, int(scenario_id))):
            return HttpResponseBadRequest("Unknown scene.")
    with acting_as_learner(request.user.pk):
        # A keep for each new word, and one for the request: words the deck holds already
        # (a "Keep all" after some were kept one by one) cost nothing more.
        new = deck.which_kept(request.user.pk, words).count(False)
        cost = max(new, 1) - searched
        verdict = deck.KEEPS.take(request.user.pk, cost=cost) if cost else None
    if verdict is not None and not verdict.allowed:
        return _keeping_too_quickly(verdict)
    kept: list[Card] = []
    try:
        for german, gloss, example in zip(words, glosses, examples, strict=True):
            try:
                card = deck.keep(
                    request.user.pk,
                    german,
                    gloss,
                    example,
                    int(scenario_id) if scenario_id else None,
                    example_language,
                )
                kept.append(card)
            except deck.AlreadyKept:
                pass
            except deck.DeckFull:
                return HttpResponseBadRequest(
                    f"Your deck holds {deck.MAX_CARDS} cards, its most: remove some first."
                )
            except deck.AccountGone:
                return HttpResponse(ACCOUNT_GONE, status=410)
    finally:
        if kept:  # also those kept before a word was refused
            deck.cards_kept.send(
                sender=deck,
                learner_id=request.user.pk,
                words=[card.german for card in kept],
                card_ids_without_gloss=[str(card.pk) for card in kept if not card.gloss],
            )
    if len(words) > 1:
        said = f"Kept {len(kept)} new" if kept else "All in your deck already"
    elif request.POST.get("name_it"):  # words of a line: which (a newcomer's recheck)
        # As the deck holds it, the page's copies are marked by it (static/js/keep.js).
        named = kept[0].german if kept else deck.as_word(words[0])
        said = f"Kept „{named}“" if kept else f"„{named}“ is in your deck"
    else:
        said = "Kept" if kept else "In your deck"
    if request.htmx and not request.htmx.target == "report":
        return render(request, "learning/partials/kept.html", {"said": said})
    # A whole report kept (htmx swaps its #report): the report again, every word now kept.
    return redirect(page_on_this_site(request, request.POST.get("back", "")) or "deck")


def _keeping_too_quickly(verdict) -> HttpResponse:
    return HttpResponse(
        f"You are keeping words very quickly: try again in {verdict.wait_label}.", status=429
    )


@login_required
@require_GET
def review(request: HttpRequest) -> HttpResponse:
    return _review_page(request)


def _review_page(request: HttpRequest, status: int = 200) -> HttpResponse:
    due = deck.due_cards(request.user.pk)
    card = due[0] if due else None
    after = deck.next_after_each_answer(card) if card else {}
    labels = {"again": "Again", "hard": "Hard", "good": "Good", "easy": "Easy"}
    context = {
        "card": card,
        "left": deck.count_due(request.user.pk),
        "answers": [(value, label, after.get(value)) for value, label in labels.items()],
        # The last due card answered: the focus goes to what the page says now (it fell to
        # the page's top: a newcomer's recheck).
        "just_answered": request.GET.get("after") == "answer",
    }
    if card is None:  # when to come back (the review ended without a word: a newcomer's walk)
        next_due = deck.next_due(request.user.pk)
        context["deck_empty"] = next_due is None
        if next_due is not None:  # a date in the learner's own time zone (local-time.js)
            context["next_due"], context["next_due_at"] = deck.next_label(next_due), next_due
    return render(request, "learning/review.html", context, status=status)


@login_required
@require_POST
def answer(request: HttpRequest, card_id: UUID) -> HttpResponse:
    rating = request.POST.get("rating", "")
    if rating not in deck.RATINGS:
        return HttpResponseBadRequest("Answer with again, hard, good or easy.")
    reviewed = deck.review(request.user.pk, card_id, rating)
    if reviewed is None:  # the review goes on (it was a dead end: the attacker's replay)
        messages.info(request, CARD_GONE)
        return _review_page(request, status=404)
    if not reviewed.counted:
        messages.info(request, ANSWERED_ALREADY)
    return redirect(reverse("review") + "?after=answer")


@login_required
@require_GET
def cards(request: HttpRequest) -> HttpResponse:
    # From review's "write it on your deck's page", or a card's "Change the meaning": the
    # focus in that card's box (it stayed on the page: a newcomer's recheck).
    return _deck_page(request, write_meaning=request.GET.get("meaning", ""))


def _deck_page(request: HttpRequest, status: int = 200, **shown) -> HttpResponse:
    cards = deck.all_cards(request.user.pk)
    for card in cards:
        card.next_label = deck.next_label(card.due)
    lately = deck.removed_lately(request.user.pk)
    # The one just removed, offered to undo at the top of the page the removal leads to (and
    # its reload); the others below: only the last one could be undone (a newcomer's walk).
    removed = next((c for c in lately if c["id"] == request.GET.get("removed")), None)
    context = {
        "cards": cards,
        "removed": removed,
        "removed_lately": [card for card in lately if card is not removed],
        "put_back": request.GET.get("back", ""),
        "saved": request.GET.get("saved", ""),
        "written": request.POST.get("meaning", ""),
        **shown,
    }
    return render(request, "learning/deck.html", context, status=status)


@login_required
@require_POST
def remove(request: HttpRequest) -> HttpResponse:
    card_id = parse_uuid(request.POST.get("card", ""))
    removed = deck.remove(request.user.pk, card_id) if card_id else None
    if removed is None:
        raise Http404("No such card.")
    return redirect(f"{reverse('deck')}?removed={removed['id']}")


@login_required
@require_POST
def set_meaning(request: HttpRequest) -> HttpResponse:
    card_id = parse_uuid(request.POST.get("card", ""))
    if card_id is None:
        raise Http404("No such card.")
    try:
        was = request.POST.get("was")  # the meaning the form showed, if any
        card = deck.set_meaning(request.user.pk, card_id, request.POST.get("meaning", ""), was)
    except ValueError as refused:  # said beside its box, which keeps what was written
        return _deck_page(
            request, status=400, write_meaning=str(card_id), meaning_error=str(refused)
        )
    except deck.MeaningChanged as changed:
        said = (
            f"Its meaning is now „{changed}“ (saved in another tab, or the model's):"
            " save again to replace it."
        )
        return _deck_page(request, status=409, write_meaning=str(card_id), meaning_error=said)
    if card is None:  # removed in another tab, say: said, with what was written (it was lost)
        written = " ".join(request.POST.get("meaning", "").split())[: deck.MAX_WORD_LENGTH]
        gone = "That card is no longer in your deck (removed in another tab?)"
        messages.error(
            request, f"{gone}: its meaning „{written}“ was not saved." if written else f"{gone}."
        )
        return _deck_page(request, status=404)
    # Said beside the card, where the page opens (at its top it was out of sight: a
    # newcomer's walk), which takes the focus.
    return redirect(f"{reverse('deck')}?saved={card_id}#card-{card_id}")


@login_required
@require_POST
def put_back(request: HttpRequest) -> HttpResponse:
    card_id = parse_uuid(request.POST.get("card", ""))
    try:
        if card_id is None:
            raise deck.NothingToPutBack
        removed = deck.put_back(request.user.pk, card_id)
        messages.success(request, f"Put back „{removed['german']}“.")
        # The focus goes to the card put back (it fell to the page's top: the last note).
        return redirect(f"{reverse('deck')}?back={card_id}#card-{card_id}")
    except deck.NothingToPutBack:
        messages.info(request, "That card can no longer be put back.")
    except deck.AlreadyKept as kept:
        messages.info(request, f"„{kept}“ is in your deck again already.")
    except deck.DeckFull:  # it stays to put back once there is room (the recheck)
        messages.error(request, f"Your deck holds {deck.MAX_CARDS} cards, its most.")
        return redirect(f"{reverse('deck')}?removed={card_id}")
    return redirect("deck")


@login_required
@require_GET
def export(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in EXPORTS:
        raise Http404("Download the deck as .csv or .txt (for Anki).")
    cards = deck.all_cards(request.user.pk)
    if kind == "csv":
        response = HttpResponse(deck.as_csv(cards), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="maraum-deck.csv"'
    else:
        response = HttpResponse(deck.as_anki(cards), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="maraum-deck-anki.txt"'
    return response
