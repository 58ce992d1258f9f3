"""What counts as text people can read: for messages, kept words and model output."""

import unicodedata

# Hangul fillers: letters by category, blank on screen.
_BLANK_LETTERS = "\u115f\u1160\u3164\uffa0"


def is_visible(char: str) -> bool:
    """Letters, marks, numbers, punctuation, symbols; not spaces, format characters (zero-width
    space, joiners, soft hyphen, direction marks) or the Hangul fillers that render blank."""
    return unicodedata.category(char)[0] in "LMNPS" and char not in _BLANK_LETTERS


def is_unsendable(char: str) -> bool:
    """Control characters (NUL included) but line breaks and tabs, lone surrogates (which no
    UTF-8 text can hold) and noncharacters."""
    category = unicodedata.category(char)
    return (category == "Cc" and char not in "\n\r\t") or category in ("Cs", "Cn")


def unprintable(text: str) -> bool:
    return any(is_unsendable(char) for char in text)
