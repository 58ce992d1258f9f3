"""What counts as text people can read: for messages, kept words and model output."""

import unicodedata

# Letters and symbols by category that are blank on screen: the Hangul fillers, the blank
# Braille pattern.
_BLANK = "\u115f\u1160\u3164\uffa0\u2800"


def is_visible(char: str) -> bool:
    """Letters, numbers, punctuation, symbols: what shows on its own. Not spaces, format
    characters (zero-width space, joiners, soft hyphen, direction marks), combining marks and
    variation selectors (they only change the character before them), or the characters of
    those categories that render blank."""
    return unicodedata.category(char)[0] in "LNPS" and char not in _BLANK


def is_unsendable(char: str) -> bool:
    """Control characters (NUL included) but line breaks and tabs, lone surrogates (which no
    UTF-8 text can hold) and noncharacters."""
    category = unicodedata.category(char)
    return (category == "Cc" and char not in "\n\r\t") or category in ("Cs", "Cn")


def unprintable(text: str) -> bool:
    return any(is_unsendable(char) for char in text)
