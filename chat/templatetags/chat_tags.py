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
def as_kept(line: str) -> str:
    """A role-play line as its "Keep" button sends it (learning.deck.as_kept)."""
    return deck.as_kept(line)


@register.filter
def as_markdown_text(text: str) -> str:
    """Text in the transcript's Markdown as text: "<", "&" and "[" escaped the way CommonMark
    reads them, so a line holding HTML or a link or image (a model's, say) is not one in a
    viewer that renders it (the attacker's replay and recheck)."""
    return str(text).translate(_MARKDOWN_ESCAPES)


_MARKDOWN_ESCAPES = {ord(char): "\\" + char for char in "\\<&["}
