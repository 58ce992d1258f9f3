import re

from django import template

from chat.models import Message
from learning import deck

register = template.Library()


@register.simple_tag
def speaker(message: Message, character: str) -> str:
    """Who said it, for screen readers, announcements and the transcript."""
    if message.from_learner:
        return "You"
    return "Helper" if message.role == Message.Role.HELPER else character


@register.filter
def reached_of(goals) -> str:
    """ "1 of 4": how many of a scene's goals the learner has reached."""
    return f"{sum(1 for state in goals if state.reached)} of {len(goals)}"


@register.filter
def not_reached(goals) -> int:
    """How many of a scene's goals the learner has not reached (none where none are given)."""
    return sum(1 for state in goals or () if not state.reached)


@register.filter
def goals_not_reached(goals) -> str:
    """The goals not reached, named: “Say goodbye” or “A”, “B” and “C” (the completion said
    only how many: a newcomer's recheck)."""
    named = [f"“{state.goal.text}”" for state in goals or () if not state.reached]
    return " and ".join(filter(None, [", ".join(named[:-1]), *named[-1:]]))


@register.filter
def how_reached(report, number: int) -> str:
    """What a written report says of how the goal went (the export listed the goals without
    it: a newcomer's recheck); "" where it says nothing."""
    content = report.content if report is not None and report.status == "ready" else None
    goals = (content or {}).get("goals") or []
    return next((goal.get("how") or "" for goal in goals if goal.get("goal") == number), "")


@register.filter
def not_kept(words: list[dict], kept) -> list[dict]:
    """A report's words the deck does not hold yet (what its "Keep all" keeps)."""
    return [word for word in words if word["german"] not in kept]


@register.filter
def words_or_phrases(words: list[dict]) -> str:
    """What a report's "Keep all" keeps, by name: "Keep all 5 words" counted "Ich hätte gern …"
    as a word (a newcomer's walk). A noun with its article (and its plural, or the other
    gender's form) is a word. static/js/keep.js names what is left as this does."""
    phrases = sum(1 for word in words if deck.is_a_phrase(word["german"]))
    if phrases and phrases < len(words):
        return "words and phrases"
    name = "phrase" if phrases else "word"
    return name if len(words) == 1 else f"{name}s"


@register.filter
def is_a_phrase(german: str) -> bool:
    return deck.is_a_phrase(german)


@register.filter
def keepable(line: str) -> bool:
    """Whether a role-play line's "Keep" can keep it (an emoji alone cannot)."""
    return deck.keepable(deck.as_kept(line))


@register.filter
def phrases_offered(message) -> list[tuple[str, str]]:
    """The German a helper answer quotes, with its glosses (learning.deck.quoted_phrases), to
    keep one of; none for any other message."""
    return deck.quoted_phrases(message.content) if message.role == "helper" else []


@register.filter
def as_kept(line: str) -> str:
    """A role-play line as its "Keep" button sends it (learning.deck.as_kept)."""
    return deck.as_kept(line)


@register.filter
def as_button_quote(line: str, most: int = 50) -> str:
    """A line quoted in a button's name, for screen readers: cut at a word (with "…") to
    `most` characters."""
    line = " ".join(str(line).split())
    if len(line) <= most:
        return line
    cut = line[: most - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:–-") + "…"


@register.filter
def as_markdown_text(text: str, one_block: str = "") -> str:
    """Text in the transcript's Markdown as text, the way CommonMark and GitHub's Markdown read
    escapes (the attacker's replays and rechecks): "<", "&" and "[", so a line holding HTML
    or a link or image (a model's, say) is not one in a viewer that renders it; "*" and "_",
    so no line makes a bold "**Helper:**" of its own; "|" and "~", no table or strikethrough;
    "`", no code; a line's indentation, and what would begin a heading, quote, list or rule
    at the start of one of its lines; and a web address's "://" or "www.", which GitHub would
    make a link (an email address it links whatever is escaped). Each line break stays one
    when rendered. In `one_block` (a list item's), a blank line is one line break too: it
    ended the item, and the rest of a report's correction fell out of its list (the
    attacker's replay)."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")  # a line ends at either
    # No line is indented: four spaces or a tab made a code block, and in a list item a
    # heading or quote of its own (the attacker's second recheck).
    text = _INDENT.sub("", text).translate(_MARKDOWN_ESCAPES)
    text = _BLOCK_START.sub(lambda start: start[0][:-1] + "\\" + start[0][-1], text)
    text = _WEB_ADDRESS.sub(lambda found: found[0][:-1] + "\\" + found[0][-1], text)
    if one_block:
        text = _BLANK_LINES.sub("\n", text.strip("\n"))
    return _LINE_BREAK.sub("  \n", text)


_MARKDOWN_ESCAPES = {ord(char): "\\" + char for char in "\\<&[*_|~`"}
_INDENT = re.compile(r"^[ \t\f\v]+", re.MULTILINE)
# "#", ">", "-", "+", "=", or the "." or ")" of "1." or "2)".
_BLOCK_START = re.compile(r"^(?:[#>+=-]|\d{1,9}[.)])", re.MULTILINE)
_WEB_ADDRESS = re.compile(r"\w:(?=//)|(?<![^\W_])www\.", re.IGNORECASE)  # "_www." too
_BLANK_LINES = re.compile(r"\n{2,}")
_LINE_BREAK = re.compile(r"(?<=[^\n])\n(?=[^\n])")  # within a paragraph: a hard break
