"""What counts as text people can read: for messages, kept words and model output."""

import re

import unicodedata2

# Letters and symbols by category that are blank on screen: the Hangul fillers, the blank
# Braille pattern, the object replacement character (a title of it drew an empty card: the
# attacker's recheck).
_BLANK = "\u115f\u1160\u3164\uffa0\u2800\ufffc"


def is_visible(char: str) -> bool:
    """Letters, numbers, punctuation, symbols: what shows on its own. Not spaces, format
    characters (zero-width space, joiners, soft hyphen, direction marks), combining marks and
    variation selectors (they only change the character before them), the characters of
    those categories that render blank, or a code point Unicode has not assigned.

    By the latest Unicode (unicodedata2), not this Python's (3.11: Unicode 14): a pink heart
    of Unicode 15 was refused as blank. A hole in an old block (U+FB37), which a browser draws
    blank, is no newer character but unassigned (the last note's left item)."""
    category = unicodedata2.category(char)
    return category[0] in "LNPS" and char not in _BLANK


def shows_something(text: str) -> bool:
    """A character of it shows on screen: it is not blank (spaces and invisible characters
    only, which `str.strip()` leaves, bar the spaces)."""
    return any(is_visible(char) for char in text)


# The blocks where Unicode sets code points aside to draw nothing, assigned or not
# (Default_Ignorable_Code_Point): general punctuation's invisible operators, the specials'
# U+FFF0..FFF8, the tags and variation selectors supplement.
BLANK_UNASSIGNED = re.compile("[\u2060-\u206f\ufff0-\ufff8\U000e0000-\U000e0fff]")


# What no message or card may hold: the control characters (NUL included) but line breaks
# and tabs; lone surrogates, which no UTF-8 text can hold; the noncharacters; and the explicit
# direction controls (embeddings, overrides, isolates: Trojan Source's), which turn around the
# text after them, the page's own words beside a title or a report's word too (the attacker's
# replay). Not the direction marks (LRM, RLM, ALM), which reorder nothing, nor characters newer
# than this Python's Unicode: a learner's pink heart (U+1FA77, Unicode 15) was refused as
# "cannot be sent" for being unassigned in Python 3.11's Unicode 14.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
UNSENDABLE = re.compile(
    f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}\u202a-\u202e\u2066-\u2069]"
)


def is_unsendable(char: str) -> bool:
    return UNSENDABLE.match(char) is not None


def unprintable(text: str) -> bool:
    return UNSENDABLE.search(text) is not None


DIRECTION_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# A tag character outside an emoji's tag sequence (the flags of England, Scotland and Wales:
# a black flag, a subdivision's code in tag letters and digits, a cancel tag). Tags draw
# nothing, so a message could carry English text no reader sees to the model: hidden
# instructions (the attacker's replay); inside a flag of any length and of any tags too (the
# recheck).
_HIDDEN_TAGS = re.compile(
    "(\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{2,6}\U000e007f)"
    "|[\U000e0000-\U000e007f]"
)


def _blank_at_an_edge(char: str) -> bool:
    # Not a combining mark or variation selector ("❤️" ends in one), nor a flag's tags (those
    # left are a flag's), nor what is refused (a noncharacter is not sent as if unseen).
    if "\U000e0000" <= char <= "\U000e007f" or is_unsendable(char):
        return False
    return char.isspace() or char in _BLANK or unicodedata2.category(char) in ("Cf", "Cn")


def _marks(char: str) -> bool:
    return unicodedata2.category(char)[0] == "M"


def without_blank_edges(text: str) -> str:
    """`text` without the spaces and the characters that draw nothing before and after it:
    "\u200bHallo\u2060" was stored as sent, and its blank edges read as part of its first and
    last words (the last note's left item). Combining marks go with them where they mark
    nothing: first, or after a blank ("Hallo \u034f" kept its space: the attacker's recheck)."""
    start, end = 0, len(text)
    while start < end and (_blank_at_an_edge(text[start]) or _marks(text[start])):
        start += 1
    while end > start:
        if _blank_at_an_edge(text[end - 1]):
            end -= 1
            continue
        base = end
        while base > start and _marks(text[base - 1]):
            base -= 1
        if base == end or (base > start and not _blank_at_an_edge(text[base - 1])):
            break  # a character that shows, or one that marks it ("❤️")
        end = base
    return text[start:end]


def without_hidden_controls(text: str) -> str:
    """A learner's message as sent, without the direction controls pasted text can carry
    (a phone number copied on Android comes in U+202A and U+202C): they draw nothing and
    would reorder the page, so they go, rather than the message being refused for what the
    learner cannot see (the recheck replays); nor tag characters but an emoji's."""
    text = DIRECTION_CONTROLS.sub("", text)
    return _HIDDEN_TAGS.sub(lambda found: found[1] or "", text)


# Umlauts typed as two letters, the way German is written on a keyboard without them; not
# the "ue" of "neue", "Frauen" or "Quelle" ("Ich bin die Neue" read as "die Nü" was a name).
_TYPED_UMLAUT = re.compile("[aoAO][eE]|(?<![aeqAEQ])[uU][eE]")
_UMLAUT_OF = {"a": "ä", "o": "ö", "u": "ü", "A": "Ä", "O": "Ö", "U": "Ü"}


def as_typed_and_with_umlauts(text: str) -> tuple[str, ...]:
    """`text`, and as German writes it if its "ae", "oe", "ue" and "ss" were typed for "ä",
    "ö", "ü" and "ß" on a keyboard without them: "Tschuess" is "Tschüss", "Schoenen Tag" is
    "Schönen Tag", "Ich heisse" is "Ich heiße" (offline, "Tschuess!" reached no goodbye while
    "Doener" reached the döner: a newcomer's walk). For matching only: "neue" read as "neü"
    matches nothing a goal or a word list asks for."""
    with_umlauts = _TYPED_UMLAUT.sub(lambda typed: _UMLAUT_OF[typed[0][0]], text)
    with_eszett = with_umlauts.replace("ss", "ß")
    return tuple(dict.fromkeys((text, with_umlauts, with_eszett)))
