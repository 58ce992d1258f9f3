"""The review deck: a learner keeps German words and phrases (from a report, a message or a
helper answer) and reviews the due ones; FSRS (the `fsrs` package) schedules each card."""

import bisect
import csv
import functools
import io
import math
import re
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import regex
import unicodedata2
from django.db import IntegrityError, connection
from django.db.models import Case, CharField, Count, F, Func, Q, Value, When
from django.db.models.functions import Lower, Now, Replace
from django.dispatch import Signal
from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler
from psycopg.errors import UniqueViolation

from accounts.models import Profile
from learning.models import Card, RemovedCard
from lib.rls import acting_as_learner
from lib.text import (
    BLANK_UNASSIGNED,
    is_unsendable,
    is_visible,
    shows_something,
    unprintable,
    without_hidden_controls,
)
from lib.throttles import Throttle
from scenarios.models import Scenario

RATINGS = {"again": Rating.Again, "hard": Rating.Hard, "good": Rating.Good, "easy": Rating.Easy}
# FSRS's defaults (90 % desired retention), without its fuzz: it moved a long interval by a
# few percent at random, so "Easy · 8 d" on the button brought the card back in 7 to 10 days
# (a newcomer's recheck); the buttons say what answering does.
SCHEDULER = Scheduler(enable_fuzzing=False)


MAX_CARDS = 2000
MAX_WORD_LENGTH = 300  # a word or a line, on a card
MAX_EXAMPLE_LENGTH = 1000  # the line it came from (Card.example)
MAX_WORDS_PER_KEEP = 20  # what one request keeps at most (a report's "Keep all")
KEEPS = Throttle("deck-keep", "DECK_KEEPS_PER_LEARNER")
# Sent once a request's new cards are stored, with `learner_id`, their `words` (the chat
# draws those lines as kept in the learner's open pages) and `card_ids_without_gloss` (the
# chat asks the model for their meanings).
cards_kept = Signal()


class AlreadyKept(Exception):
    pass


class DeckFull(Exception):
    pass


class AccountGone(Exception):
    """The learner's account was deleted while the request waited for their deck."""


def keepable(german: str) -> bool:
    """A word or a line a card can hold: a letter or a digit at least, not only punctuation,
    and nothing that cannot be stored (control characters) or that stands for bytes that were
    not UTF-8 (U+FFFD: what Django makes of a form the browser did not send). Judged as the
    deck holds it (`as_word`): U+02BC is a letter, held as an apostrophe (a 500: the attacker's
    replay)."""
    if unprintable(german) or "\ufffd" in german:
        return False
    return any(is_visible(c) and unicodedata2.category(c)[0] in "LN" for c in as_word(german))


# A helper answer is English around German, and the helper is told to quote its German with
# the English gloss in brackets after it (prompts/helper.md; the offline tips do the same).
# No quotation's text holds its own opening mark: one left open then reads only to the next,
# where it read to the end of the text from each (0.4 s for 8,000: the attacker's recheck);
# a „…“ may hold a "…", and failing a “, a „ closes with a " (as typed on many keyboards).
QUOTATION = re.compile(
    r'"([^"\n]+)"|„([^„“”\n]+)[“”]|„([^„“”"\n]+)"|“([^“”\n]+)”|‚([^‚‘\n]+)‘|»([^»«\n]+)«'
)
QUOTE_MARKS = '"„“”‚‘»«'
# One bracket may nest in a gloss: "„der Apfel (die Äpfel)“ (apple (apples))" was kept with
# no meaning.
GLOSS_AFTER = re.compile(r"\s*\(((?:[^()\n]|\([^()\n]*\))+)\)")
MOST_PHRASES = 8  # offered under one answer
# An article quoted alone is a point of grammar ("words in -chen take „das“"), not a word to
# learn: offered as a phrase to keep, it was a card of "das" (the last note).
ARTICLES = frozenset("der die das den dem des ein eine einen einem einer eines".split())
# So is a pronoun quoted without a meaning: the helper's welcome quotes „Sie“ as advice ("use
# „Sie“ with her"), and it was offered as a phrase to keep (a newcomer's walk); „du“
# (informal you) is one.
PRONOUNS = frozenset("ich du er sie es wir ihr mich dich mir dir uns euch ihn ihm ihnen".split())


# Brackets after a quotation that say where or how it is used, not what it means: a card kept
# with "Bavaria, Austria" or "dative plural" as its meaning taught that (the last note's item).
USAGE_LABELS = frozenset(
    "standard formal informal colloquial polite casual spoken written slang dialect regional "
    "nominative accusative dative genitive singular plural masculine feminine neuter "
    "infinitive past participle perfect imperative "
    # their short forms, and an article for the gender
    "f m n pl sg sing dat acc akk nom gen coll fem masc neut inf der die das".split()
)
# Words that say where it is used, beside a name or a label ("used in Austria"); alone ("in",
# "also") they may be what it means.
WHERE_WORDS = frozenset(
    "used in the mainly mostly also only especially southern northern eastern western "
    "south north east west".split()
)


def meaning_in_brackets(text: str) -> str:
    """What brackets after a quoted phrase say it means, or "" when they say something else:
    names and grammar or usage labels only ("Berlin", "standard German", "used in Austria",
    "dative plural", "f."), or what it stands for ("= in dem", "short for in dem"). A card
    without a meaning has one asked for; a wrong one stays, so a doubt leaves it out: a name
    alone ("Hello") is not taken either."""
    text = " ".join(without_hidden_controls(text).split())
    words = re.findall(r"[^\W\d_]+", text)
    a_sentence = re.search(r"[!?]", text) or (text.endswith(".") and len(words) > 1)
    if not words or text.startswith("=") or text.lower().startswith("short for"):
        return ""
    where = WHERE_WORDS if len(words) > 1 else frozenset()
    labels = (word[0].isupper() or word.lower() in USAGE_LABELS | where for word in words)
    return "" if all(labels) and not a_sentence else text


def gloss_in_answer(german: str, answer: str) -> str:
    """The gloss a helper answer gives the phrase in brackets after quoting it, if it quotes
    it: selected rather than pressed in its list, a phrase was kept without it (a newcomer's
    recheck)."""
    german = as_word(german).lower()
    return next((gloss for quoted, gloss in quoted_phrases(answer) if quoted.lower() == german), "")


# Dots and ellipses at an end, with the spaces among them: "…", "....", ". . ." or "……" (one
# "..." or "…" was taken off, and the rest left: the attacker's recheck). A full stop alone is
# a sentence's and stays, and so does one on its word before an ellipsis: "ca. …", "Dr. …" and
# "am 3. …" lost theirs (the second recheck).
_DOTS_AT_START, _DOTS_AT_END = regex.compile(r"^[\s.…]+"), regex.compile(r"[\s.…]+$")
_A_WORDS_DOT = regex.compile(r"\.(?=[\s…])")


def _without_ellipses(text: str) -> str:
    for dots in (_DOTS_AT_START, _DOTS_AT_END):
        found = dots.search(text)
        if not found or ("…" not in found[0] and found[0].count(".") < 2):
            continue
        start = found.start()
        if dots is _DOTS_AT_END and start and _A_WORDS_DOT.match(text, start):
            start += 1  # the word's own dot
        text = text[:start] + text[found.end() :]
    return text


def quoted_phrases(answer: str) -> list[tuple[str, str]]:
    """The German a helper answer quotes, each once, in order, with the gloss in brackets after
    it if any: what its "Keep" offers a learner who selected nothing (without a mouse, say,
    a learner could not keep from an answer at all: a newcomer's walk). Not a word's part
    ("-chen"), nor an article alone."""
    phrases: dict[str, tuple[str, str]] = {}
    for quotation in QUOTATION.finditer(answer):
        german = " ".join(next(group for group in quotation.groups() if group).split())
        gloss = GLOSS_AFTER.match(answer, quotation.end())
        gloss_text = meaning_in_brackets(gloss.group(1)) if gloss else ""
        # A phrase to go on ("Das macht …", "That comes to …") is kept without the dots, and
        # a price ("3,50 €") is no phrase (a newcomer's walk).
        german, gloss_text = (_without_ellipses(text) for text in (german, gloss_text))
        a_part = german.startswith("-") or german.endswith("-")
        fits = len(german) <= MAX_WORD_LENGTH >= len(gloss_text)
        has_letters = regex.search(r"\p{L}", german)
        if keepable(german) and fits and not a_part and has_letters:
            german = as_word(german)  # as "Keep" sends it, and the deck holds it
            # As held: "d\u00adas" is "das" (the recheck).
            advice = german.lower() in PRONOUNS and not gloss_text
            if german.lower() not in ARTICLES and not advice:
                phrases.setdefault(german.lower(), (german, gloss_text))
    return list(phrases.values())[:MOST_PHRASES]


# A word as "Keep words" offers it: letters and digits with their marks (by the regex
# package's Unicode: Python's split "שָׁלוֹם" at its marks, the attacker's replay), with an
# apostrophe (an acute accent too) or a hyphen (a non-breaking one too) inside ("darf's",
# "E-Mail"), holding a letter.
_LETTERS = r"[\p{L}\p{N}][\p{L}\p{M}\p{N}]*"
WORD = regex.compile(rf"{_LETTERS}(?:['\u00b4\u2011-]{_LETTERS})*")


def words_of(line: str) -> list[str]:
    """The words of a chat line, each once whatever its case, in order, as the deck holds them:
    what its "Keep words" offers, so that a learner without a mouse can keep a word of a line
    (only a selection could: the last note's left item)."""
    words: dict[str, str] = {}
    text = as_word(line[: 2 * MAX_EXAMPLE_LENGTH])
    for found in WORD.finditer(text):
        word = found.group()
        has_a_letter = any(unicodedata2.category(char)[0] == "L" for char in word)
        if has_a_letter and keepable(word) and len(word) <= MAX_WORD_LENGTH:
            words.setdefault(word.lower(), _as_written_alone(word, text, found.start()))
    return list(words.values())  # all of them: 20 left a long line's last words out


def _as_written_alone(word: str, text: str, at: int) -> str:
    """A word of `text` (at `at`) as written on its own: small if it is one written small
    but for its place at a sentence's start ("Auf Deutsch, bitte!" offered „Auf“: a
    newcomer's walk)."""
    before = text[:at].rstrip(" „“\"'‚‘»«›‹–—-(")
    if word.lower() in NEVER_CAPITALISED and (not before or before[-1] in ".!?…:"):
        return word.lower()
    return word


# Words written small but at a sentence's start: pronouns (not "Sie"), articles, prepositions,
# conjunctions, particles and the verbs learners meet first. Others keep their capital, which
# in German may be a noun's.
NEVER_CAPITALISED = frozenset(
    """
    ich du er es wir ihr man mich dich mir dir uns euch sich mein meine dein deine unser
    der die das den dem des ein eine einen einem einer eines kein keine keinen keinem keiner
    dieser diese dieses diesen jeder jede jedes alle alles viel viele etwas nichts
    auf an in im am ans ins zu zum zur mit nach von vom bei beim aus für über unter vor hinter
    neben zwischen durch gegen ohne um bis seit ab
    und oder aber denn weil dass wenn als ob doch sondern also dann sonst noch schon
    ja nein nicht auch nur sehr gern gerne hier da dort jetzt immer oft nie heute gestern
    wie was wer wen wem wo wann warum wieso woher wohin welche welcher welches welchen
    bitte danke so gut klar natürlich vielleicht leider übrigens genau prima super okay
    bin bist ist sind seid war waren habe hast hat haben hatte kann kannst können möchte
    möchtest möchten will willst wollen muss musst müssen darf darfst dürfen soll sollen
    werde wirst wird werden würde würden wäre gibt geht gehen komm kommt kommen
    eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf
    """.split()
)


def words_in_line(typed: str, line: str) -> str | None:
    """Words typed as a line has them next to each other, as it has them ("brötchen bitte" of
    "Zwei Brötchen, bitte!" is "Brötchen, bitte"); None if it does not. A keyboard cannot select
    words of a line, and its "Keep words" listed them one by one (the last note's left item).
    Words the line has as typed come first; else an umlaut of the line's may be typed without
    a German keyboard ("Broetchen" or "Brotchen" for "Brötchen", a newcomer's walk), but no
    more: "zahlen" is not "Zählen" where the line has both, nor "blau" "blaue" (the recheck).
    Words of one sentence: "bitte danke" of "Ja, bitte. Danke!" was kept as "bitte. Danke"."""
    typed_words = WORD.findall(as_word(typed))
    # Line by line, as _example reads it: a line break ends a sentence ("Guten Tag⏎Was …" kept
    # "Tag Was": the recheck), and as_word makes it a space.
    line = "\n".join(as_word(part) for part in line.strip().splitlines())
    found = list(WORD.finditer(line))
    window = len(typed_words)
    ends = sentence_ends(line)
    starts = [
        at
        for at in (range(len(found) - window + 1) if typed_words else ())
        if not any(found[at].end() <= end < found[at + window - 1].start() for end in ends)
    ]
    # As typed, then in another case, then "ss" for "ß": "Masse" was "Maße", "weg" "Weg",
    # where the line had both (the second recheck).
    for form in (str, str.lower, str.casefold):
        wanted, written = [form(w) for w in typed_words], [form(w.group()) for w in found]
        run = next((at for at in starts if written[at : at + window] == wanted), None)
        if run is not None:
            break
    else:
        run = next(
            (at for at in starts if all(map(_typed_as, wanted, written[at : at + window]))), None
        )
    if run is None:
        return None
    if window == 1:  # a word, as its line's "Keep words" lists it
        return _as_written_alone(found[run].group(), line, found[run].start())
    last = found[run + window - 1]
    return " ".join(line[found[run].start() : last.end()].split())


_TYPED_FOR = {"ä": ("ä", "ae", "a"), "ö": ("ö", "oe", "o"), "ü": ("ü", "ue", "u")}


def _typed_as(typed: str, written: str, at: int = 0, of: int = 0) -> bool:
    """Whether `typed` is `written` (both casefolded) with any of its umlauts typed as the two
    letters or the plain vowel."""
    while of < len(written):
        char = written[of]
        if char in _TYPED_FOR:
            return any(
                typed.startswith(way, at) and _typed_as(typed, written, at + len(way), of + 1)
                for way in _TYPED_FOR[char]
            )
        if not typed.startswith(char, at):
            return False
        at, of = at + 1, of + 1
    return at == len(typed)


def german_of_answer(words: str, answer: str) -> bool:
    """Words selected in a helper answer are German unless they stand in it only outside its
    quotations, when it has any: English was kept as German cards (a newcomer's walk). Where
    they stand as whole words decides ("a" of "das" and "in" of "bin" passed as quoted: the
    rechecks), else where they stand at all (a drag cuts words: "like four bre" passed as not
    found); words not found in it (beyond the part sent, say) are taken as they are."""
    words, answer = " ".join(words.split()).strip(QUOTE_MARKS + " "), " ".join(answer.split())
    quotations = [quotation.span() for quotation in QUOTATION.finditer(answer)]
    if not words or not quotations:
        return True
    starts = [start for start, _ in quotations]
    whole, anywhere = rf"(?<!\w){re.escape(words)}(?!\w)", re.escape(words)
    for pattern in (whole, anywhere):
        places = [place.span() for place in re.finditer(pattern, answer)]
        if places:
            return any(_quoted(start, end, starts, quotations) for start, end in places)
    return True


def _quoted(start: int, end: int, starts: list[int], quotations: list[tuple[int, int]]) -> bool:
    inside = bisect.bisect_right(starts, start) - 1
    return inside >= 0 and end <= quotations[inside][1]


def as_word(text: str) -> str:
    """A word or a line as the deck holds and compares it, so that one that looks the same is
    the same card (copies of "Bäcker" were kept: the attacker's replays and rechecks): composed
    (a letter and its combining mark as one); without format characters (zero-width space and
    joiners, the soft hyphen), variation selectors or characters that draw nothing; a letter
    that has a plain Latin form as that form (full-width and mathematical letters, ligatures,
    Roman numerals); a letter of another script drawn like a Latin one (Unicode's confusables)
    as that one in a word with Latin letters (a word wholly in another script stays as
    written); one apostrophe; at most three marks on a letter (a pile drew over the page
    above: the recheck); any run of spaces or line breaks as one space; stripped."""
    text = unicodedata2.normalize("NFC", text).translate(_SAME_TO_THE_EYE)
    text = _UNUSUAL.sub(_as_plain, text)
    if not text.isascii():
        # Decomposed: the Cyrillic "a" with a diaeresis is a Cyrillic "a" and a mark.
        decomposed = unicodedata2.normalize("NFD", text)
        if not _look_alikes().isdisjoint(decomposed):
            text = _MIXED_WORD.sub(_as_latin, decomposed)
    return _SPACES.sub(" ", _MARKS_PILED.sub(r"\1", unicodedata2.normalize("NFC", text))).strip()


def _as_plain(unusual: re.Match) -> str:
    """A character beyond Latin-1 (or the soft hyphen) as the deck holds it."""
    char = unusual[0]
    category = unicodedata2.category(char)
    if category == "Cf" or _DRAWS_NOTHING.match(char) or BLANK_UNASSIGNED.match(char):
        return ""
    if category == "Cn" and not is_unsendable(char):  # unassigned: U+FB37 drew a blank gap,
        return ""  # and "Semmel" with it was another card (the attacker's replay)
    if category[0] == "L" or category == "Nl":
        plain = unicodedata2.normalize("NFKC", char)
        if plain != char and all(_is_latin(letter) for letter in plain):
            return plain
    return char


def _is_latin(char: str) -> bool:
    return unicodedata2.name(char, "").startswith("LATIN")


def _as_latin(word: re.Match) -> str:
    if not any(_is_latin(char) for char in word[0]):
        return word[0]
    return word[0].translate(_latin_look_alikes())


@functools.cache
def _latin_look_alikes() -> dict[int, str]:
    """Each letter of another script that Unicode's confusables list as drawn like an ASCII
    letter, as that letter (Latin letters themselves, IPA's say, stay)."""
    from confusable_homoglyphs.confusables import confusables_data

    table = {}
    for char, homoglyphs in confusables_data.items():
        if len(char) != 1 or unicodedata2.category(char)[0] != "L" or _is_latin(char):
            continue
        ascii_letters = [h["c"] for h in homoglyphs if h["c"].isascii() and h["c"].isalpha()]
        if ascii_letters and len(ascii_letters[0]) == 1:
            table[ord(char)] = ascii_letters[0]
    return table


@functools.cache
def _look_alikes() -> frozenset[str]:
    return frozenset(chr(code) for code in _latin_look_alikes())


# Looked at one by one (a German line has few: the rest of Latin-1 needs no look).
_UNUSUAL = re.compile("[^\\x00-\\xac\\xae-\\xff]")
_SAME_TO_THE_EYE = {
    **{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)},  # full-width marks
    # The model's apostrophes ("geht\u2019s") as the one learners type ("geht's").
    0x2019: "'",
    0x02BC: "'",
}
# Variation selectors, and marks and letters that draw nothing (the combining grapheme
# joiner, Khmer's inherent vowels, Mongolian's selectors, the Hangul fillers, blank Braille).
_DRAWS_NOTHING = re.compile(
    "[\\ufe00-\\ufe0f\\U000e0100-\\U000e01ef\\u034f\\u17b4\\u17b5\\u180b-\\u180f"
    "\\u115f\\u1160\\u3164\\uffa0\\u2800]"
)
_MIXED_WORD = re.compile(r"[^\W\d_]+(?:['\u0300-\u036f][^\W\d_]*)*")
_SPACES = re.compile(r"\s+")  # a no-break, narrow or double space, a line break


def keep(
    learner_id,
    german: str,
    gloss: str = "",
    example: str = "",
    scenario_id=None,
    example_language: str = "de",
) -> Card:
    """A new card, due now; AlreadyKept if the deck holds this word (in any case) already.
    The example is the sentence of `example` (a message, in `example_language`) holding it."""
    german, gloss = as_word(german)[:MAX_WORD_LENGTH].rstrip(), as_meaning(gloss)
    if not keepable(german):
        raise ValueError("Nothing to keep.")
    if not gloss and example_language == "en":  # selected, the phrase came without its gloss
        try:
            gloss = as_meaning(gloss_in_answer(german, example))
        except ValueError:  # none, then, as for a phrase the answer gave no meaning
            gloss = ""
    if not gloss and scenario_id is not None:
        gloss = as_meaning(meaning_in_scene(learner_id, scenario_id, german))
    first = FsrsCard()
    try:
        with acting_as_learner(learner_id):
            _lock_deck(learner_id)
            # Counted on the profile, which an account deleted while this waited for its deck
            # took with it: a card inserted for it failed, and the page said "In your deck"
            # (the attacker's replay).
            profile = Profile.objects.filter(pk=learner_id).annotate(held=Count("cards"))
            cards = profile.values_list("held", flat=True).first()
            if cards is None:
                raise AccountGone
            # Asked, not learnt from a failing insert: a server that logs failing statements
            # would log the learner's word. And asked first: a word kept already costs no
            # example (the attacker's replay).
            held = _cards_holding(learner_id, german, example if example_language == "de" else "")
            if not held:
                if cards >= MAX_CARDS:
                    raise DeckFull
                return _stored(
                    learner_id,
                    scenario_id,
                    german=german,
                    gloss=gloss,
                    due=first.due,
                    fsrs=first.to_dict(),
                    **_example(german, example, example_language),
                )
            # Its meaning, if the one card the deck holds has none yet: "das Hähnchen —
            # chicken" from a report, where "Hähnchen" was kept from a line. Not one of two:
            # "See — lake" went to the older of "die See" and "der See" (the recheck).
            if gloss and len(held) == 1 and not held[0][1]:
                Card.objects.filter(pk=held[0][0], gloss="").update(gloss=gloss)
        raise AlreadyKept(german)  # once that is stored
    except IntegrityError as error:  # the deck holds the word: a keep that did not lock it
        if not isinstance(error.__cause__, UniqueViolation):
            raise
        raise AlreadyKept(german) from error


def meaning_in_scene(learner_id, scenario_id, german: str) -> str:
    """The meaning the scene's word list gives `german`, if it lists it: "Kilo" and "Äpfel"
    kept from a line had none offline, and review said "No meaning saved", beside a report
    saying "das Kilo — kilo · In your deck ✓" (a newcomer's recheck). Only a form the list
    writes ("Äpfel" of "der Apfel (die Äpfel)"), with or without its article: not another
    form ("Tomaten" is not "die Tomate — tomato"), nor a phrase holding one."""
    with acting_as_learner(learner_id, savepoint=False):
        scene = Scenario.objects.filter(pk=scenario_id)
        vocabulary = scene.values_list("vocabulary", flat=True).first()
    word = without_article(german)
    for entry in vocabulary if isinstance(vocabulary, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("german"), str):
            forms = re.split(r"[()/,;]", entry["german"])
            if word in {without_article(form) for form in forms}:
                return str(entry.get("gloss") or "")
    return ""


def is_a_phrase(german: str) -> bool:
    """More than one word, not counting an article, a bracket ("der Apfel (die Äpfel)") or
    another form after a slash ("der Kollege / die Kollegin")."""
    first_form = _BRACKETED.sub("", german).split("/")[0]
    return len(without_article(first_form).split()) > 1


def without_article(word: str) -> str:
    return re.sub(r"^(der|die|das)\s+", "", word.strip(), flags=re.IGNORECASE).casefold()


def _example(german: str, line: str, language: str) -> dict:
    """A new card's example: the sentence of `line` holding `german`."""
    # Looked for as the deck holds the words, line by line (its line breaks end sentences):
    # "geht\u2019s" kept as "geht's" was not found in the answer, which was then the whole
    # example (the attacker's recheck).
    line = "\n".join(as_word(part) for part in line.strip().splitlines())
    example = sentence_holding(german, line, language == "en")[:MAX_EXAMPLE_LENGTH]
    if example == german:
        example = ""  # a whole line kept: it is its own example
    return {"example": example, "example_language": language if example else "de"}


def may_name_scene(learner_id, scenario_id: int) -> bool:
    """A scene a card may name: one learners can pick, or one this learner played. Any id was
    taken: a staff draft's title showed in the deck (the attacker's recheck)."""
    with acting_as_learner(learner_id, savepoint=False):
        played = Q(sessions__user_id=learner_id)
        return Scenario.objects.filter(Q(is_active=True) | played, pk=scenario_id).exists()


def _stored(learner_id, scenario_id, **fields) -> Card:
    """A new card in its scene, or without one if the scene went as it was stored (a trigger
    decides: learning/migrations/0009)."""
    with acting_as_learner(learner_id):
        card = Card.objects.create(user_id=learner_id, scenario_id=scenario_id, **fields)
        if scenario_id is not None:
            card.refresh_from_db(fields=["scenario"])
        return card


# A word as the deck compares it: in any case, by PostgreSQL's lower() (which differs from
# Python's), so its index on lower(german) finds the cards; a noun with its article or without
# (`word_forms`), where the card's own text is a noun too (`kept_words`).
CARDS_HOLDING = """
    SELECT card.id, card.gloss, asked.folded, card.german, card.example
    FROM unnest(%s::text[], %s::boolean[]) AS asked(form, folded)
    JOIN deck_cards card ON card.user_id = %s AND lower(card.german) = lower(asked.form)
    ORDER BY card.created_at, card.id
"""


def _cards_holding(learner_id, german: str, line: str = "") -> list[tuple]:
    """The learner's cards of this word (`german` as as_word() writes it, from `line` if
    known), oldest first, as (id, meaning)."""
    forms = word_forms(german, line)
    with connection.cursor() as cursor:
        cursor.execute(CARDS_HOLDING, [[f for f, _ in forms], [f for _, f in forms], learner_id])
        rows = cursor.fetchall()
    return [
        (card, gloss) for card, gloss, folded, held, example in rows if _same(folded, held, example)
    ]


def _holds_word(learner_id, german: str) -> bool:
    return bool(_cards_holding(learner_id, german))


# Where a sentence may end: its mark with any closing quote or bracket, then a space; or a line
# break. A period after a number ("am 1. März") or an abbreviation ("Dr.", "e.g.") ends none.
# Tried only where a run of marks begins: tried at each of a long run's marks, it went through
# the rest of the run every time (250 ms a keep of 900 periods: the attacker's recheck).
SENTENCE_END = re.compile(r"(?<![.!?…])([.!?…]++[\"'“”»«‘’›‹)\]]*+)\s+|\n+")
ABBREVIATIONS = frozenset(
    "dr prof hr fr nr hausnr str st bzw ca usw etc vs mr mrs ms jr sr inkl ggf evtl tel abs "
    "jan feb apr aug sep sept okt oct nov dez dec".split()
)


def sentence_ends(text: str) -> list[int]:
    """Where each sentence of `text` ends (its mark, or its line break), in order."""
    return [end.start() for end in SENTENCE_END.finditer(text) if _ends_sentence(text, end)]


def _ends_sentence(line: str, boundary: re.Match) -> bool:
    mark = boundary.group(1)
    if mark is None or "\n" in line[boundary.end(1) : boundary.end()]:
        return True  # a line break
    # Not where the text goes on in lower case, or with a gloss in brackets: "Say „Wie
    # geht's?“ (How are you?) to friends" is one sentence (the attacker's recheck).
    after = line[boundary.end() : boundary.end() + 1]
    if after.islower() or after == "(":
        return False
    if not mark.startswith(".") or mark.startswith(".."):
        return True  # "!", "?", "…"
    word = _word_before(line, boundary.start())
    abbreviated = word.isdigit() or len(word) == 1 or "." in word
    return not (abbreviated or word.casefold() in ABBREVIATIONS)


def _word_before(line: str, end: int, longest: int = 12) -> str:
    """The word (letters, digits and periods) ending at `end`, its last `longest` characters
    at most: an abbreviation is short, and a regular expression searching the text before each
    period for it took seconds a request on a long run of letters (the attacker's replay)."""
    start = end
    while (
        start > 0
        and end - start < longest
        and (line[start - 1].isalnum() or line[start - 1] in "._")
    ):
        start -= 1
    return line[start:end]


_ARTICLE = re.compile(r"^(?:der|die|das|ein|eine)\s+", re.IGNORECASE)


def found_in(german: str, text: str) -> "re.Match | Found | None":
    """Where the word or phrase `german` (a scene's word list entry, say) stands in `text` as
    words of their own, in any case: a noun without its article and inflected ("die Tomate"
    in "zwei Tomaten"; not "Beruf" in "beruflich", nor "das Ei" in "ein", nor "seit" in
    "Seite": the recheck); each form of "der Apfel (die Äpfel)" or "der Kollege / die
    Kollegin"; a phrase with a gap in one sentence ("Das macht … Euro.")."""
    entries = [_BRACKETED.sub("", german), *_BRACKETED.findall(german)]
    for form in (form for entry in entries for form in entry.split("/")):
        found = _form_found_in(form.strip(), text)
        if found:
            return found
    return None


_BRACKETED = re.compile(r"\s*\(([^)]*)\)")


def _form_found_in(form: str, text: str) -> "re.Match | Found | None":
    with_article = bool(_ARTICLE.match(form)) and len(form.split()) == 2  # not "Das macht …"
    bare = (_ARTICLE.sub("", form) if with_article else form).strip(" .!?…")
    noun = with_article or (form[:1].isupper() and len(bare.split()) == 1)
    parts = [re.escape(part.strip()) for part in bare.split("…") if part.strip()]
    if not parts:
        return None
    if len(parts) == 1 and noun and len(bare) > 2:
        parts[0] += r"(?:e|en|n|s|es|er|ern|em)?"
    words = [re.compile(rf"(?<!\w){part}(?!\w)", re.IGNORECASE) for part in parts]
    return words[0].search(text) if len(words) == 1 else _in_one_sentence(words, text)


class Found(NamedTuple):
    """Where the parts of a phrase with gaps were found, as a match says it."""

    text: str
    at: int
    to: int

    def start(self) -> int:
        return self.at

    def end(self) -> int:
        return self.to

    def group(self) -> str:
        return self.text[self.at : self.to]


def _in_one_sentence(words: list[re.Pattern], text: str) -> Found | None:
    """The first place where `words` stand in this order in one sentence, each as soon after
    the one before as it comes. One regex with a lazy gap between each two took time to the
    power of its gaps: a word list entry of staff's with three, "am … um … in … Uhr", froze
    a process for seconds with one helper question (the attacker's recheck). Here each
    word's search only moves on: about as long as reading the text once a word. Sentences
    end as a kept line's do (`sentence_ends`): every period ended one, so "Das macht … Euro."
    was not found in "Das macht 3.50 Euro." nor "am … um … Uhr" in "am 3. Mai um 14.30 Uhr",
    and a line break ended none (the last note's item)."""
    marks = sentence_ends(text)
    latest: list[re.Match | None] = [None] * len(words)  # each word's match last found
    for first in words[0].finditer(text):
        end = first.end()
        for index in range(1, len(words)):
            found = latest[index]
            if found is None or found.start() < end:
                found = latest[index] = words[index].search(text, end)
            if found is None:
                return None  # nor after any later start
            next_mark = bisect.bisect_left(marks, end)
            if next_mark < len(marks) and marks[next_mark] < found.start():
                break  # not in the same sentence
            end = found.end()
        else:
            return Found(text, first.start(), end)
    return None


def sentence_holding(words: str, line: str, in_answer: bool = False) -> str:
    """The sentence (or sentences) of `line` that hold `words`: words selected in a helper
    answer had the whole English answer as their example, the offline note with it (a
    newcomer's walk). The line itself when the words are not in it, or are that sentence
    (the line is the sentence's context, which the model's meaning is asked with); but in a
    helper answer (`in_answer`), the sentence's lead-in and gloss, or nothing when it has
    neither: the whole answer was a paragraph of English to review with (a newcomer's walk)."""
    # As written, else as found_in() finds it: "die Schale" of "Eine Schale kostet vier Euro."
    # kept the whole three sentences of its line (a newcomer's recheck).
    # As words of their own: "die Tomate" was found in "Die Tomatensuppe …" (the recheck).
    as_written = rf"(?<!\w){re.escape(words)}(?!\w)"
    found = (re.search(as_written, line, re.IGNORECASE) or found_in(words, line)) if words else None
    if found is None:
        return line
    start, end = 0, len(line)
    for boundary in SENTENCE_END.finditer(line):
        if not _ends_sentence(line, boundary):
            continue
        space = boundary.end(1) if boundary.group(1) else boundary.start()
        if boundary.end() <= found.start():
            start = boundary.end()
        elif space >= found.end():
            end = space
            break
    sentence = line[start:end].strip()
    # A sentence kept whole, the line is its context: it was its own example, in quotes, and
    # with a lead-in ("Ordering: „Einen Döner, bitte.“") nearly so (a newcomer's recheck).
    ends = re.search(r"[.!?\u2026][\"'\u201c\u201d\u00bb\u00ab)\]]*$", words.strip())
    # Not a phrase with a gap ("Wie wäre es …?"), which is no sentence (a newcomer's recheck).
    whole_sentence = ends and len(words.split()) > 1 and "…" not in words
    kept_whole = whole_sentence or _bare(sentence) == _bare(words)
    if not in_answer:
        return line if kept_whole else sentence
    quoted_to = found.end()
    while quoted_to < len(line) and line[quoted_to] in QUOTE_MARKS:
        quoted_to += 1
    gloss = GLOSS_AFTER.match(line, quoted_to)
    glossed_to = gloss.end() if gloss else quoted_to
    if _bare(line[start:quoted_to]) == _bare(words) and not _bare(line[glossed_to:end]):
        return ""  # the quotation alone, and its gloss, the card's meaning: the card itself
    return line[start:glossed_to].strip() if kept_whole else sentence


def _bare(text: str) -> str:
    """A sentence as compared with selected words: a selection often stops before its mark,
    and a helper answer quotes a phrase ("„Tschüss!“"), which was then its own example."""
    return text.strip().strip(".!?…\"'„“”‚‘»«()[] ").casefold()


def as_kept(line: str) -> str:
    """A chat line as "Keep" sends it: a long one is cut to a card's length, with an ellipsis
    (in characters as keep() counts them: Django's truncatechars counted a letter and its
    combining marks as one, and the line came out too long to keep)."""
    # As the deck holds it, so a tab's copies are marked when it is kept; from its start only
    # (a line of 8,000 letters that each expand fourfold took 10 ms: the attacker's recheck).
    line = as_word(line[: 2 * MAX_WORD_LENGTH])
    if len(line) <= MAX_WORD_LENGTH:
        return line
    return line[: MAX_WORD_LENGTH - 1] + "…"


def kept_of(learner_id, words, line: str = "") -> set[str]:
    """Which of `words` the deck holds already, compared as keep() compares them: by
    PostgreSQL's lower(), which differs from Python's (İ, a final Σ), with a noun's article
    or without (`words` of `line`, if given)."""
    stripped = {word: as_word(word) for word in words}
    if not stripped:
        return set()
    with acting_as_learner(learner_id, savepoint=False), connection.cursor() as cursor:
        cursor.execute(*kept_query(learner_id, stripped.values(), line))
        found = kept_words(cursor.fetchall())
    return {word for word, as_kept in stripped.items() if as_kept in found}


def kept_query(learner_id, words, line: str = "") -> tuple[str, list]:
    """The statement kept_of() runs, for a caller that sends it with others in one round trip:
    `kept_words()` of its rows are those of `words` (as_word()) the deck holds."""
    columns: tuple[list, list, list] = ([], [], [])  # each asked word once for each form
    for word in {as_word(w) for w in words}:
        for form, folded in word_forms(word, line):
            for column, value in zip(columns, (word, form, folded), strict=True):
                column.append(value)
    return KEPT_OF, [*columns, learner_id]


def kept_words(rows) -> set[str]:
    """The words asked by `kept_query()` that the deck holds, from its rows."""
    return {word for word, folded, held, example in rows if _same(folded, held, example)}


def holds_line(learner_id, line: str) -> bool:
    """Whether the deck holds a chat line already, as "Keep" would send it."""
    return bool(kept_of(learner_id, [as_kept(line)]))


KEPT_OF = """
    SELECT DISTINCT asked.word, asked.folded, card.german, card.example
    FROM unnest(%s::text[], %s::text[], %s::boolean[]) AS asked(word, form, folded)
    JOIN deck_cards card ON card.user_id = %s AND lower(card.german) = lower(asked.form)
"""

# The articles a noun may be kept with or without, as one card.
NOUN_ARTICLES = ("der", "die", "das")


def noun_of(word: str, line: str = "") -> str | None:
    """The noun a word or a phrase (as as_word() writes it) is, with its article or without:
    one word that begins with a capital, alone or after der, die or das ("das Hähnchen",
    "Hähnchen"); None for anything else: "Das stimmt" was one card with "stimmt", and
    "der Morgen" with "morgen" (the attacker's recheck). Nor a word alone whose capital
    `line` (where it came from) explains by a sentence's start: "Morgen habe ich frei." is
    tomorrow, and it got the meaning of "der Morgen" (the next recheck)."""
    parts = word.split(" ")
    alone = len(parts) == 1
    if len(parts) == 2 and parts[0].lower() in NOUN_ARTICLES:
        parts = parts[1:]
    if len(parts) != 1 or not parts[0][:1].isupper():
        return None
    return None if alone and _only_opens_sentences(word, line) else parts[0]


_OPENS = re.compile(
    r"(?:^|[.!?\u2026:]\s)[\s\"'\u201e\u201c\u201a\u2018\u00bb\u00ab(\u2013\u2014-]*$"
)


def _only_opens_sentences(word: str, line: str) -> bool:
    """Whether `word` stands in `line` only where a sentence begins (not at all: False)."""
    found = [m.start() for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", line)]
    return bool(found) and all(_OPENS.search(line[:at]) for at in found)


def word_forms(word: str, line: str = "") -> list[tuple[str, bool]]:
    """What a card of `word` (from `line`, if known) may hold, compared in any case, each with
    whether it is a noun's other form: the word itself; a noun with its article without it,
    and one without with each article. "der See" and "die See" stay two cards (the lake and
    the sea); a phrase with dots to go on and without them."""
    noun = noun_of(word, line)
    if noun is None:
        # A phrase to go on is one card with its dots or without: the report's "Ich hätte
        # gern …" (the scene's word list) and the helper's "Ich hätte gern" (kept without
        # them) were two (a newcomer's walk); also typed as "..." (the attacker's recheck).
        bare = _without_ellipses(word).rstrip()
        if not bare or " " not in bare:
            return [(word, False)]
        dotted = (f"{bare}{space}{dots}" for dots in ("…", "...") for space in (" ", ""))
        return [(form, False) for form in dict.fromkeys((word, bare, *dotted))]
    if noun != word:
        return [(word, False), (noun, True)]
    return [(word, False), *((f"{article} {noun}", True) for article in NOUN_ARTICLES)]


def _same(folded: bool, held: str, example: str) -> bool:
    """Whether a card found by one of `word_forms()` holds the word: as written, or as a noun's
    other form if the card's text is a noun too ("morgen" is not "der Morgen", nor "Morgen"
    kept from "Morgen habe ich frei.")."""
    return not folded or noun_of(held, example) is not None


def which_kept(learner_id, words: list[str]) -> list[bool]:
    """For each of `words`, whether the deck holds it already."""
    kept = kept_of(learner_id, words)
    return [word in kept for word in words]


def due_cards(learner_id, limit: int = 1) -> list[Card]:
    with acting_as_learner(learner_id, savepoint=False):
        return list(
            Card.objects.filter(user_id=learner_id, due__lte=Now())
            .select_related("scenario")
            .order_by("due", "id")[:limit]
        )


def next_due(learner_id) -> datetime | None:
    """When the learner's next card is due; None for an empty deck."""
    with acting_as_learner(learner_id, savepoint=False):
        return (
            Card.objects.filter(user_id=learner_id)
            .order_by("due")
            .values_list("due", flat=True)
            .first()
        )


def count_due(learner_id) -> int:
    with acting_as_learner(learner_id, savepoint=False):
        return Card.objects.filter(user_id=learner_id, due__lte=Now()).count()


class Reviewed(NamedTuple):
    card: Card
    counted: bool  # False: answered already (a double click, another tab), not due again yet


def next_after_each_answer(card: Card, at: datetime | None = None) -> dict[str, str]:
    """When the card would come back after each answer, as the review buttons say it ("10 min",
    "3 d"), as Anki's do: the learner chose blind (a newcomer's walk)."""
    when = at or datetime.now(UTC)
    after = {}
    for rating, answer in RATINGS.items():
        scheduled, _ = SCHEDULER.review_card(FsrsCard.from_dict(card.fsrs), answer, when)
        after[rating] = interval_label(scheduled.due - when)
    return after


def interval_label(interval: timedelta) -> str:
    # Whole minutes rounded up: an answer's 5½ were "6 min" on its button, then, seconds later,
    # "comes back in 5 min" (a newcomer's walk).
    minutes = max(1, math.ceil(interval.total_seconds() / 60))
    for unit, size in (("y", 525_600), ("mo", 43_200), ("d", 1440), ("h", 60)):
        if minutes >= size:
            return f"{round(minutes / size)} {unit}"
    return f"{minutes} min"


def next_label(due: datetime) -> str:
    """When a card not yet due comes up, as the deck page says it: within a day as the answer
    buttons say it ("in 10 min"), where "6 Dec" read the same for ten minutes and tonight, and
    Django's "0 minutes" for under one (the rechecks); later, its date."""
    wait = due - datetime.now(UTC)
    return f"in {interval_label(wait)}" if wait <= timedelta(days=1) else f"{due:%-d %b}"


def review(learner_id, card_id, rating: str, at: datetime | None = None) -> Reviewed | None:
    """Schedule the card after the learner's answer (again, hard, good or easy) given now (or
    `at`); None if the card is not theirs. The row is locked while it is rescheduled."""
    answer = RATINGS[rating]
    with acting_as_learner(learner_id):
        card = Card.objects.select_for_update().filter(user_id=learner_id, pk=card_id).first()
        if card is None:
            return None
        when = at or datetime.now(UTC)
        if card.due > when:
            return Reviewed(card, counted=False)
        scheduled, _ = SCHEDULER.review_card(FsrsCard.from_dict(card.fsrs), answer, when)
        card.fsrs, card.due, card.reviews = scheduled.to_dict(), scheduled.due, card.reviews + 1
        card.save(update_fields=["fsrs", "due", "reviews"])
        return Reviewed(card, counted=True)


def awaiting_meanings(learner_id, card_ids, most: int) -> list[Card]:
    """At most `most` of the learner's cards without a meaning yet: those among `card_ids`
    first, then any whose meaning was asked for."""
    asked = Q(pk__in=card_ids) | Q(meaning_asked_at__isnull=False)
    theirs_first = Case(When(pk__in=card_ids, then=Value(0)), default=Value(1))
    with acting_as_learner(learner_id, savepoint=False):
        return list(
            Card.objects.filter(asked, user_id=learner_id, gloss="")
            .select_related("scenario")
            .order_by(theirs_first, "created_at", "id")[:most]
        )


def meanings_asked(learner_id, card_ids) -> None:
    """The learner's cards without a meaning say it is on its way (`Card.meaning_on_its_way`)."""
    with acting_as_learner(learner_id):
        _lock_deck(learner_id)  # several cards: the one lock order
        Card.objects.filter(user_id=learner_id, pk__in=card_ids, gloss="").update(
            meaning_asked_at=Now()
        )


def meanings_not_coming(learner_id, card_ids) -> None:
    """Asked for, and come or given up: no meaning is on its way any more."""
    with acting_as_learner(learner_id):
        _lock_deck(learner_id)  # several cards: the one lock order
        Card.objects.filter(user_id=learner_id, pk__in=card_ids).update(meaning_asked_at=None)


def add_glosses(learner_id, meanings: dict[str, str]) -> int:
    """Give cards their meaning (by card id), each only if it has none by now; how many."""
    added = 0
    with acting_as_learner(learner_id):
        # Several cards, one by one in the model's order: without the deck's lock first, an
        # account's deletion, deleting them in its own, deadlocked with it (the recheck).
        _lock_deck(learner_id)
        for card_id, gloss in meanings.items():
            try:  # as the learner's own are held: a line break in one made it unchangeable
                meaning = as_meaning(" ".join(gloss.split())[:MAX_WORD_LENGTH])
            except ValueError:
                continue  # none, then: the learner may write one
            if meaning:
                added += Card.objects.filter(user_id=learner_id, pk=card_id, gloss="").update(
                    gloss=meaning
                )
    return added


MEANING_SHOWS_NOTHING = "Write the meaning, in letters that show."
_MARKS_PILED = regex.compile(r"(\p{M}{3})\p{M}+")


def as_meaning(text: str) -> str:
    """A card's meaning as the deck holds it, on one line and without direction controls; ""
    for none. ValueError for one that shows nothing, cannot be stored or is too long: one that
    showed nothing was kept, and a real one was then refused as given already (the attacker's
    recheck)."""
    meaning = without_hidden_controls(" ".join(text.split()))
    # At most three marks on a letter: a stack of 299 drew over the page above (the recheck).
    meaning = _MARKS_PILED.sub(r"\1", meaning)
    if unprintable(meaning) or "\ufffd" in meaning:  # (it was "write it in letters that show")
        raise ValueError("That contains characters that cannot be kept.")
    if meaning and not shows_something(meaning):
        raise ValueError(MEANING_SHOWS_NOTHING)
    if len(meaning) > MAX_WORD_LENGTH:
        raise ValueError(f"A meaning is at most {MAX_WORD_LENGTH} characters.")
    return meaning


class MeaningChanged(Exception):
    """The card's meaning is not the one the learner changed: another tab saved one meanwhile."""


def set_meaning(learner_id, card_id, meaning: str, was: str | None = None) -> Card | None:
    """The learner writes a card's meaning, or corrects it: a card kept without one (offline,
    no model to ask) kept none for ever (a newcomer's walk), and one given could not be
    corrected (the next walk). None if the learner has no such card; ValueError for a meaning
    that shows nothing, cannot be stored or is too long; MeaningChanged if it is no longer
    `was` (two tabs saving at once: the last won, and the other was not told)."""
    with acting_as_learner(learner_id):
        cards = Card.objects.filter(user_id=learner_id, pk=card_id)
        if not cards.exists():  # asked first: removed meanwhile, it is not a refused meaning
            return None
        meaning = as_meaning(meaning)
        if not meaning:
            raise ValueError(MEANING_SHOWS_NOTHING)
        if was is not None:
            # Compared as one line: a browser sends a line break of the form's copy as CRLF,
            # so a meaning stored with one (from the model, before it was held on one line)
            # was "changed in another tab" at every save (the attacker's replay).
            now = cards.select_for_update().values_list("gloss", flat=True).first()
            if now is None:
                return None
            if " ".join(now.split()) != " ".join(was.split()):
                raise MeaningChanged(now)
        cards.update(gloss=meaning, meaning_asked_at=None)
        return cards.first()


def _lock_deck(learner_id) -> None:
    """Until the transaction ends, the learner's other keeps, put-backs, removals and changes
    of several cards wait, and so does the deletion of their account (learning/migrations/
    0007). Without it two put-backs (or keeps) at once each counted room for one more and
    went past MAX_CARDS, and one added a word the other had just added, whose failing insert
    a server may log (the attacker's replay). Taken first, before any row of the deck: the
    one lock order."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT lock_deck(%s)", [learner_id])


def remove(learner_id, card_id) -> dict | None:
    """Delete a card, held as it was for Undo (`put_back()`): its fields, or None if there
    was no such card. Removed at a click, with its reviews, a card could not be had back (a
    newcomer's walk)."""
    with acting_as_learner(learner_id):
        # The deck first: a removal that locked its card, then referred to the profile (the
        # held card's row), deadlocked with the account's deletion (the attacker's recheck).
        _lock_deck(learner_id)
        # Locked as read: a review committed meanwhile was deleted with the card, yet Undo put
        # back the card as read before it (the attacker's replay).
        card = Card.objects.select_for_update().filter(user_id=learner_id, pk=card_id).first()
        if card is None or not Card.objects.filter(pk=card.pk).delete()[0]:
            return None
        removed = {
            "id": str(card.pk),
            "german": card.german,
            "gloss": card.gloss,
            "example": card.example,
            "example_language": card.example_language,
            "scenario_id": card.scenario_id,
            "due": card.due.isoformat(),
            "fsrs": card.fsrs,
            "reviews": card.reviews,
            "created_at": card.created_at.isoformat(),
        }
        RemovedCard.objects.create(card_id=card.pk, user_id=learner_id, card=removed)
        held = RemovedCard.objects.filter(user_id=learner_id)
        newest = held.order_by("-removed_at", "-card_id").values("card_id")[: RemovedCard.KEPT]
        held.exclude(card_id__in=newest, removed_at__gte=_undo_since()).delete()
    return removed


def removed_lately(learner_id) -> list[dict]:
    """The cards Undo can put back, as `remove()` returned them, the last removed first."""
    with acting_as_learner(learner_id, savepoint=False):
        held = RemovedCard.objects.filter(user_id=learner_id, removed_at__gte=_undo_since())
        return list(held.order_by("-removed_at", "-card_id").values_list("card", flat=True))


class NothingToPutBack(Exception):
    pass


def put_back(learner_id, card_id) -> dict:
    """Put a removed card back as it was, schedule and reviews included; its fields.
    NothingToPutBack if it is not held (put back already, in another tab, or removed too long
    ago); AlreadyKept if the deck holds its word again (it is let go then); DeckFull if the deck
    is full (it stays to put back)."""
    refused = None
    with acting_as_learner(learner_id):
        _lock_deck(learner_id)
        held = _held(learner_id, card_id).first()
        back = None if held else Card.objects.filter(user_id=learner_id, pk=card_id).first()
        if back:  # put back in another tab: it says so (it said "can no longer be put back")
            refused = AlreadyKept(back.german)
        elif held is None:
            refused = NothingToPutBack()
        else:
            removed = held.card
            kept_again = _holds_word(learner_id, removed["german"])
            if not kept_again and Card.objects.filter(user_id=learner_id).count() >= MAX_CARDS:
                refused = DeckFull()
            else:
                held.delete()
                if kept_again:
                    refused = AlreadyKept(removed["german"])
                else:
                    _put_back(learner_id, removed)
    # Raised out here, so that what was let go stays so.
    if refused:
        raise refused
    return removed


def _held(learner_id, card_id):
    return RemovedCard.objects.filter(
        user_id=learner_id, card_id=card_id, removed_at__gte=_undo_since()
    )


def _undo_since():
    return Now() - Value(RemovedCard.FOR)


def _put_back(learner_id, removed: dict) -> Card:
    scenario_id = removed["scenario_id"]
    if scenario_id is not None and not Scenario.objects.filter(pk=scenario_id).exists():
        scenario_id = None  # deleted since
    return _stored(
        learner_id,
        scenario_id,
        id=removed["id"],
        german=removed["german"],
        gloss=removed["gloss"],
        example=removed["example"],
        example_language=removed["example_language"],
        due=datetime.fromisoformat(removed["due"]),
        fsrs=removed["fsrs"],
        reviews=removed["reviews"],
        created_at=datetime.fromisoformat(removed["created_at"]),
    )


# A card as its deck lists it: a noun by the noun, not its article (every "das" card came
# before every "die" card: a newcomer's recheck), and ä, ö, ü, ß read as a, o, u, ss, as a
# German dictionary reads them (DIN 5007-1), not by code point ("Äpfel" after "Zwiebel").
_LISTED_AS = Func(
    Replace(
        Lower(
            Func(
                F("german"),
                Value(r"^(der|die|das)\s+(?=\S+$)"),  # a noun, not "Das macht … Euro."
                Value(""),
                Value("i"),
                function="regexp_replace",
                output_field=CharField(),
            )
        ),
        Value("ß"),
        Value("ss"),
    ),
    Value("äöü"),
    Value("aou"),
    function="translate",
    output_field=CharField(),
)


def all_cards(learner_id) -> list[Card]:
    with acting_as_learner(learner_id, savepoint=False):
        return list(
            Card.objects.filter(user_id=learner_id)
            .select_related("scenario")
            .order_by(_LISTED_AS, Lower("german"), "german")
        )


def due_words(learner_id, limit: int = 3) -> list[str]:
    """A few due words a character may bring in (the deck's, not its glosses)."""
    with acting_as_learner(learner_id, savepoint=False):
        return list(
            Card.objects.filter(user_id=learner_id, due__lte=Now())
            .order_by("due")
            .values_list("german", flat=True)[:limit]
        )


def as_csv(cards: list[Card]) -> str:
    """With UTF-8's byte order mark: Excel reads a CSV without it in the machine's own code
    page, and "Tüte" came out as "TÃ¼te" (a newcomer's walk)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["german", "gloss", "example", "scene", "due", "reviews"])
    for card in cards:
        scene = card.scenario.title if card.scenario else ""
        texts = [_cell(text) for text in (card.german, card.gloss, card.example, scene)]
        writer.writerow([*texts, card.due.isoformat(), card.reviews])
    return out.getvalue()


# Where a spreadsheet in a semicolon locale (German Excel) starts a cell of its own, inside
# a text of ours: "x;=1+1" was a formula there (the attacker's replay).
AFTER_SEMICOLON = re.compile(r'(;[\s"]*)(?=[=+\-@])')


def _cell(text: str) -> str:
    """A spreadsheet must not read a card as a formula (OWASP: CSV injection), where it splits
    at commas or at semicolons."""
    text = AFTER_SEMICOLON.sub(r"\1'", text)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_anki(cards: list[Card]) -> str:
    """Anki's plain-text import: front (German) and back (the gloss, or that there is none,
    then the example), tab separated, with the header lines Anki reads."""
    # "#tags column" tells Anki the third column is tags, not a field (a newcomer's walk).
    lines = ["#separator:tab", "#html:false", "#columns:German\tBack\tTags", "#tags column:3"]
    for card in cards:
        # Said when there is none: the example alone read as the meaning ("frisches" — "Heute
        # habe ich ganz frisches Obst…": a newcomer's walk), and a whole line had no back.
        meaning = card.gloss or "(no meaning saved)"
        back = " — ".join(part for part in (meaning, card.example) if part)
        tag = card.scenario.code if card.scenario else ""
        lines.append("\t".join(_one_line(field) for field in (card.german, back, tag)))
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    """One field of Anki's import, quoted: a card starting with # is no comment or setting,
    and a quote in it no field boundary."""
    flat = " ".join(text.replace("\t", " ").split())
    return '"' + flat.replace('"', '""') + '"'
